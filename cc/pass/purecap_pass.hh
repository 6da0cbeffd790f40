// The purecap pass (purecap_pass.cc), registered by the plugin beside the hybrid pass.
#pragma once

#include "llvm/IR/PassManager.h"

namespace flexcap_pass {
// Whether -flexcap-purecap was given: the purecap pass then runs instead of the hybrid one.
bool purecapRequested();
void addPurecapPass(llvm::ModulePassManager& MPM);
}  // namespace flexcap_pass
