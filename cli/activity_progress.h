// cli/activity_progress.h — the progress display of `kiln activity execute|describe --follow`:
// parsing the heartbeat-details progress convention (docs/PROGRESS.md), estimating an ETA from
// the rate at which the fraction grows, and rendering either one line redrawn in place (a TTY)
// or plain, rate-limited lines with no escape codes (a pipe, a CI log).
//
// The convention: when the first heartbeat detail is a JSON object with a `progress` object,
//   {"progress": {"fraction": 0.42, "message": "epoch 42/100", "current": 42, "total": 100,
//                 "unit": "epochs"}}
// (every field optional; other keys beside `progress` are ignored, so an activity can keep its
// checkpoint there), it drives the bar. Any other details are shown raw, truncated.
//
// Thread safety: ParseProgress and the Format* functions are pure; a ProgressRenderer is used
// from one thread.
//
//   ProgressRenderer renderer({.tty = isatty(2) != 0, .width = 100});
//   ProgressSnapshot s{.status = "RUNNING", .attempt = 1, .details = first_detail,
//                      .has_details = true};
//   if (std::optional<std::string> out = renderer.Update(s, absl::Now())) std::cerr << *out;
//   std::cerr << renderer.Finish();  // ends the TTY line
#pragma once

#include <deque>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace kiln::cli {

// The `progress` object of the convention, validated.
struct Progress {
  std::optional<double> fraction;  // 0..1; from `fraction`, else current/total
  std::string message;
  std::optional<double> current, total;
  std::string unit;
};

// The progress in `first_detail` when it follows the convention; nullopt otherwise (not an
// object, no `progress` object, or a progress object whose fields have the wrong types, e.g.
// "fraction": "half"). A fraction outside 0..1 is clamped.
std::optional<Progress> ParseProgress(const nlohmann::json& first_detail);

// "12s", "3m05s", "2h03m"; "-" for a negative or infinite duration.
std::string FormatEta(absl::Duration d);

// "[########------------]" with `width` cells between the brackets.
std::string FormatBar(double fraction, int width);

// Estimates the time left from the recent rate of progress: the growth of the fraction over
// the last kWindow samples (not since the first heartbeat, so a slow start such as loading a
// model, or a throttled first heartbeat, does not skew the estimate for the whole run), counted
// from `now` (time passed since the last sample is already spent). Restarts when the attempt
// changes or the fraction goes back; a sample with the same time as the last replaces it.
class EtaEstimator {
 public:
  static constexpr size_t kWindow = 4;

  void Add(int attempt, double fraction, absl::Time at);
  // nullopt until two samples with a growing fraction are seen. `now` defaults to the time of
  // the last sample; the result is never negative.
  std::optional<absl::Duration> Eta(absl::Time now = absl::InfinitePast()) const;

 private:
  struct Sample {
    double fraction;
    absl::Time at;
  };
  int attempt_ = -1;
  std::deque<Sample> samples_;  // oldest first, at most kWindow
};

// What one DescribeActivityExecution said, reduced to what the display shows.
struct ProgressSnapshot {
  std::string status;          // "SCHEDULED", "RUNNING", "CANCEL_REQUESTED", ...
  int attempt = 1;
  bool has_details = false;
  nlohmann::json details;      // the decoded first heartbeat detail
  absl::Time heartbeat_time = absl::InfinitePast();  // when the details were recorded
  std::string last_failure;    // message of the previous attempt's failure, when retried
};

struct ProgressRendererOptions {
  bool tty = false;
  int width = 80;                                 // the line is cut to this many columns
  absl::Duration min_line_interval = absl::Seconds(1);  // non-TTY: at most one line per this
};

class ProgressRenderer {
 public:
  explicit ProgressRenderer(ProgressRendererOptions options) : options_(options) {}

  // The text to write for this snapshot, or nullopt when nothing should be written: on a TTY,
  // "\r" + the line + "\x1b[K" whenever the line changed; otherwise the line + "\n" when it
  // changed and (unless the attempt or status changed) min_line_interval passed since the
  // last line written.
  std::optional<std::string> Update(const ProgressSnapshot& snapshot, absl::Time now);

  // On a TTY with a line drawn: "\n" so that what follows starts on its own line; otherwise
  // the last line held back by the rate limit (if any), so the final state is always shown.
  std::string Finish();

  // The line for `snapshot` without any control characters (exposed for tests); the ETA is
  // counted from `now` (default: the time of the latest heartbeat).
  std::string Line(const ProgressSnapshot& snapshot, absl::Time now = absl::InfinitePast());

 private:
  ProgressRendererOptions options_;
  EtaEstimator eta_;
  std::string last_line_, pending_line_;
  std::string last_status_;
  int last_attempt_ = 0;
  absl::Time last_written_ = absl::InfinitePast();
  bool drawn_ = false;
};

}  // namespace kiln::cli
