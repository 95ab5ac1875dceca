#include "cli/activity_progress.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace kiln::cli {
namespace {

// Cuts `text` to at most `max` bytes without splitting a UTF-8 sequence; "..." marks the cut.
std::string Truncate(const std::string& text, size_t max) {
  if (text.size() <= max) return text;
  if (max <= 3) return text.substr(0, max);
  size_t cut = max - 3;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return text.substr(0, cut) + "...";
}

// Newlines, tabs and other control characters in a message would break the one-line display.
std::string OneLine(const std::string& text) {
  std::string out = text;
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return out;
}

std::string FormatNumber(double v) {
  if (std::floor(v) == v && std::abs(v) < 1e15) return absl::StrCat(static_cast<int64_t>(v));
  return absl::StrFormat("%.3g", v);
}

}  // namespace

std::optional<Progress> ParseProgress(const nlohmann::json& first_detail) {
  if (!first_detail.is_object()) return std::nullopt;
  auto it = first_detail.find("progress");
  if (it == first_detail.end() || !it->is_object()) return std::nullopt;
  const nlohmann::json& p = *it;
  Progress out;
  auto number = [&](const char* key, std::optional<double>& field) {
    auto f = p.find(key);
    if (f == p.end() || f->is_null()) return true;
    if (!f->is_number()) return false;
    const double v = f->get<double>();
    if (!std::isfinite(v)) return false;
    field = v;
    return true;
  };
  auto text = [&](const char* key, std::string& field) {
    auto f = p.find(key);
    if (f == p.end() || f->is_null()) return true;
    if (!f->is_string()) return false;
    field = f->get<std::string>();
    return true;
  };
  if (!number("fraction", out.fraction) || !number("current", out.current) ||
      !number("total", out.total) || !text("message", out.message) || !text("unit", out.unit)) {
    return std::nullopt;
  }
  if (!out.fraction && out.current && out.total && *out.total > 0) {
    out.fraction = *out.current / *out.total;
  }
  if (out.fraction) out.fraction = std::clamp(*out.fraction, 0.0, 1.0);
  return out;
}

std::string FormatEta(absl::Duration d) {
  if (d < absl::ZeroDuration() || d == absl::InfiniteDuration()) return "-";
  const int64_t s = absl::ToInt64Seconds(absl::Ceil(d, absl::Seconds(1)));
  if (s < 60) return absl::StrCat(s, "s");
  if (s < 3600) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%dh%02dm", s / 3600, (s % 3600) / 60);
}

std::string FormatBar(double fraction, int width) {
  width = std::max(width, 1);
  const int filled =
      static_cast<int>(std::floor(std::clamp(fraction, 0.0, 1.0) * width + 1e-9));
  return "[" + std::string(filled, '#') + std::string(width - filled, '-') + "]";
}

void EtaEstimator::Add(int attempt, double fraction, absl::Time at) {
  if (samples_.empty() || attempt != attempt_ || fraction < samples_.back().fraction ||
      at < samples_.back().at) {
    attempt_ = attempt;
    samples_.clear();
  }
  if (!samples_.empty() && samples_.back().at == at) {
    samples_.back().fraction = fraction;  // the same heartbeat seen again, or re-recorded
    return;
  }
  if (!samples_.empty() && samples_.back().fraction == fraction) {
    // No progress since the last sample: keep the time progress was last seen to grow, so a
    // pause lowers the rate instead of being forgotten.
    if (samples_.size() >= 2) {
      samples_.back().at = at;
      return;
    }
  }
  samples_.push_back({fraction, at});
  while (samples_.size() > kWindow) samples_.pop_front();
}

std::optional<absl::Duration> EtaEstimator::Eta(absl::Time now) const {
  if (samples_.size() < 2) return std::nullopt;
  const Sample& first = samples_.front();
  const Sample& last = samples_.back();
  const double grown = last.fraction - first.fraction;
  const double seconds = absl::ToDoubleSeconds(last.at - first.at);
  if (grown <= 0 || seconds <= 0) return std::nullopt;
  if (last.fraction >= 1.0) return absl::ZeroDuration();
  absl::Duration left = absl::Seconds((1.0 - last.fraction) * seconds / grown);
  if (now != absl::InfinitePast() && now > last.at) left -= now - last.at;
  return std::max(left, absl::ZeroDuration());
}

std::string ProgressRenderer::Line(const ProgressSnapshot& s, absl::Time now) {
  std::string line;
  if (s.status != "RUNNING") absl::StrAppend(&line, s.status, "  ");
  std::optional<Progress> progress;
  if (s.has_details) progress = ParseProgress(s.details);
  std::string attempt = absl::StrCat("attempt ", s.attempt);
  if (s.attempt > 1 && !s.last_failure.empty()) {
    absl::StrAppend(&attempt, " (retry after: ", Truncate(OneLine(s.last_failure), 40), ")");
  }
  if (progress) {
    // A completed activity is done, whatever its last (throttled) heartbeat said.
    const bool completed = s.status == "COMPLETED";
    // Its message then predates the end: say so rather than show "3000/3000  slept 2s of 3s".
    const bool stale_message =
        completed && ((progress->fraction && *progress->fraction < 1.0) ||
                      (progress->total && progress->current != progress->total));
    if (completed && (progress->fraction || progress->total)) progress->fraction = 1.0;
    if (completed && progress->total) progress->current = progress->total;
    if (progress->fraction) {
      const double f = *progress->fraction;
      if (!completed) {
        eta_.Add(s.attempt, f, s.heartbeat_time == absl::InfinitePast() ? absl::Now()
                                                                         : s.heartbeat_time);
      }
      absl::StrAppend(&line, FormatBar(f, 20),
                      absl::StrFormat(" %3d%%", static_cast<int>(std::floor(f * 100 + 1e-9))));
      if (std::optional<absl::Duration> eta = eta_.Eta(now); eta && !completed) {
        absl::StrAppend(&line, "  ETA ", FormatEta(*eta));
      }
      absl::StrAppend(&line, "  ");
    }
    absl::StrAppend(&line, attempt);
    if (progress->current) {
      absl::StrAppend(&line, "  ", FormatNumber(*progress->current));
      if (progress->total) absl::StrAppend(&line, "/", FormatNumber(*progress->total));
      if (!progress->unit.empty()) absl::StrAppend(&line, " ", OneLine(progress->unit));
    }
    if (!progress->message.empty()) {
      absl::StrAppend(&line, stale_message ? "  (last heartbeat: " : "  ", OneLine(progress->message),
                      stale_message ? ")" : "");
    }
  } else {
    absl::StrAppend(&line, attempt);
    if (s.has_details) {
      absl::StrAppend(&line, "  details: ", Truncate(OneLine(s.details.dump()), 60));
    } else if (s.status == "SCHEDULED") {
      absl::StrAppend(&line, "  waiting for a worker");
    } else {
      absl::StrAppend(&line, "  no progress reported yet");
    }
  }
  return Truncate(line, static_cast<size_t>(std::max(options_.width, 10)));
}

std::optional<std::string> ProgressRenderer::Update(const ProgressSnapshot& snapshot,
                                                    absl::Time now) {
  std::string line = Line(snapshot, now);
  const bool state_changed = snapshot.status != last_status_ || snapshot.attempt != last_attempt_;
  last_status_ = snapshot.status;
  last_attempt_ = snapshot.attempt;
  if (line == last_line_) {
    pending_line_.clear();
    return std::nullopt;
  }
  if (options_.tty) {
    last_line_ = line;
    drawn_ = true;
    return "\r" + line + "\x1b[K";
  }
  if (!state_changed && now - last_written_ < options_.min_line_interval) {
    pending_line_ = line;
    return std::nullopt;
  }
  pending_line_.clear();
  last_line_ = line;
  last_written_ = now;
  return line + "\n";
}

std::string ProgressRenderer::Finish() {
  if (options_.tty) {
    if (!drawn_) return "";
    drawn_ = false;
    return "\n";
  }
  if (pending_line_.empty()) return "";
  last_line_ = std::move(pending_line_);
  pending_line_.clear();
  return last_line_ + "\n";
}

}  // namespace kiln::cli
