#include "routing/slot_supplier.h"

#include "gpu/mps.h"

namespace kiln::routing {

std::string CudaVisibleDevices(const std::vector<AssignedDevice>& devices) {
  std::string out;
  for (const AssignedDevice& d : devices) {
    if (!out.empty()) out += ",";
    out += d.uuid;
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> ChildEnvironment(
    const std::vector<AssignedDevice>& devices, const ResourceNeeds& needs) {
  std::vector<std::pair<std::string, std::string>> env;
  if (!devices.empty()) env.emplace_back("CUDA_VISIBLE_DEVICES", CudaVisibleDevices(devices));
  const int percentage = needs.mps_active_thread_percentage;
  if (percentage >= 1 && percentage <= 100) {
    env.emplace_back(gpu::kMpsActiveThreadPercentageEnv, std::to_string(percentage));
  }
  return env;
}

SlotPermit& SlotPermit::operator=(SlotPermit&& other) noexcept {
  if (this != &other) {
    Release();
    supplier_ = other.supplier_;
    id_ = other.id_;
    used_ = other.used_;
    other.supplier_ = nullptr;
    other.id_ = 0;
    other.used_ = false;
  }
  return *this;
}

absl::Status SlotPermit::TryMarkUsed(const SlotUse& use) {
  if (supplier_ == nullptr || used_) return absl::OkStatus();
  absl::Status marked = supplier_->TryMarkSlotUsed(id_, use);
  if (marked.ok()) used_ = true;
  return marked;
}

std::optional<AssignedDevice> SlotPermit::device() const {
  if (supplier_ == nullptr) return std::nullopt;
  return supplier_->PermitDevice(id_);
}

void SlotPermit::Release() {
  if (supplier_ == nullptr) return;
  SlotSupplier* supplier = supplier_;
  supplier_ = nullptr;
  used_ = false;
  supplier->ReleaseSlot(id_);
}

namespace {
class GrantedReservation final : public PendingReservation {
 public:
  void Cancel() override {}
};
}  // namespace

std::shared_ptr<PendingReservation> PendingReservation::Granted() {
  static const auto granted = std::make_shared<GrantedReservation>();
  return granted;
}

}  // namespace kiln::routing
