// The hybrid pass: unmodified C, checked as Morello checks hybrid code.
//
// Morello checks every load and store of hybrid code against the default data
// capability (DDC) and every branch against the program counter capability (PCC). This
// pass inserts the same checks in software, in line, before every memory access of the
// module: loads, stores, atomics, memory intrinsics (memcpy, memmove, memset: struct
// copies included), by-value arguments, masked and gathered vector accesses, and
// indirect calls. Each check compares the address with the running compartment's
// window (cc/runtime/include/flexcap/cc/hybrid_abi.h); only a failed comparison calls
// the runtime, which decides exactly and raises the capability fault.
//
//   flexcap cc --abi hybrid -O2 -c x.c -o x.o      (clang-14 with this plugin; report in x.o.hybrid.json)
//
// Choices, after AddressSanitizer's (its interesting operands, its handling of memory
// intrinsics) and the calibration in shared/notes/hybrid-calibration.md:
// - The window is read once per function, at its entry. The DDC changes only when the
//   switcher enters another compartment, and it is restored before a call returns, so
//   within one activation of a function it is constant.
// - An access is exempt only where every address it may touch provably lies inside one
//   object the DDC covers wherever the code runs: a fixed-size alloca of this function
//   (the runtime runs hybrid code on a stack inside its DDC), or, in a library placed in
//   a compartment (--library), one of the module's own globals (moved into the
//   compartment's region, inside its DDC). The offset may be a constant or a value of
//   known range (`table[c & 255]`). Such a check could never fail: skipping it changes
//   no fault.
// - The fast path of a load or store of a constant size is `address - fast_base >
//   fast_limit`, one subtraction and one comparison against the fast window
//   (hybrid_abi.h: the DDC's bounds where it allows both kinds, less its last 4096
//   bytes), whatever the access's kind and size up to 4096: each function keeps one
//   base and one limit. Where it fails, the cold path decides exactly (`address - base >
//   length - size` against the kind's window) and either faults or carries on: the DDC's
//   last 4096 bytes, and a DDC that is not both readable and writable, take it. Calls,
//   and accesses of a variable size (memcpy's n, which also checks `n > length`), are
//   compared with their own window exactly, in line.
#include <cstdint>
#include <fstream>
#include <map>
#include <string>
#include <utility>

#include "llvm/Analysis/ValueTracking.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/IR/ConstantRange.h"
#include "llvm/IR/DataLayout.h"
#include "llvm/IR/Dominators.h"
#include "llvm/IR/Function.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/InstIterator.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/IntrinsicInst.h"
#include "llvm/IR/MDBuilder.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/Operator.h"
#include "llvm/IR/PassManager.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Passes/PassPlugin.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/KnownBits.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Transforms/Utils/BasicBlockUtils.h"
#include "llvm/Transforms/Utils/ModuleUtils.h"
#include "purecap_pass.hh"

using namespace llvm;

namespace {

cl::opt<std::string> ReportPath("flexcap-hybrid-report",
                                cl::desc("Append this module's counts of checked and exempted accesses (one JSON "
                                         "line) to this file"),
                                cl::init(""));
cl::opt<bool> Checks("flexcap-hybrid-checks",
                     cl::desc("Check the module's accesses (off: only place its globals, for an image without "
                              "capabilities)"),
                     cl::init(true));
cl::opt<bool> CountChecks("flexcap-hybrid-count",
                          cl::desc("Count every check made at run time (flexcap bench hybrid's checks_executed)"),
                          cl::init(false));
cl::opt<std::string> GlobalsSection(
    "flexcap-hybrid-globals-section",
    cl::desc("Place the module's globals in this section (its compartment's region, where its DDC reaches them)"),
    cl::init(""));
cl::opt<bool> StackExemption("flexcap-hybrid-stack-exemption",
                             cl::desc("Exempt accesses that provably stay inside the current stack frame"),
                             cl::init(true));
cl::opt<bool> DominatedChecks("flexcap-hybrid-drop-dominated",
                                cl::desc("Drop checks that dominating checks of the same pointer already proved"),
                                cl::init(true));
cl::opt<bool> SharedFastChecks("flexcap-hybrid-share-fast-checks",
                               cl::desc("Let a passed fast comparison stand for later accesses through the same "
                                        "pointer within 4096 bytes of it"),
                               cl::init(true));
cl::opt<bool> GlobalExemption("flexcap-hybrid-global-exemption",
                              cl::desc("Exempt accesses that provably stay inside one of the module's own globals, "
                                       "which --library places in its compartment's region"),
                              cl::init(true));

// The names and layout of hybrid_abi.h.
constexpr const char* kRegisters = "flexcap_hybrid_registers";
constexpr const char* kCompartmentCode = "flexcap_hybrid_compartment_code";
constexpr const char* kFault = "flexcap_hybrid_fault";
constexpr const char* kRegisterGlobal = "flexcap_hybrid_register_global";

// The C library functions whose calls go to the runtime's checking wrapper of the same
// name prefixed by flexcap_hybrid_ (cc/runtime/src/hybrid_libc.cc): allocation from the
// compartment's heap, and every range the function will touch checked first.
constexpr const char* kWrapped[] = {
    "malloc", "calloc",  "realloc",  "free",         "posix_memalign", "aligned_alloc", "malloc_usable_size",
    "strdup", "strndup", "memcpy",   "memmove",      "memset",         "memcmp",        "memchr",
    "strlen", "strnlen", "strcmp",   "strncmp",      "strcpy",         "strncpy",       "strcat",
    "strchr", "strrchr", "strstr",   "strspn",       "strcspn",        "snprintf",      "vsnprintf",
    "printf", "fprintf", "vfprintf", "puts",         "fputs",          "read",          "write",
    "pread",  "pwrite",  "qsort",    "gettimeofday", "time",           "localtime_r",   "gmtime_r",
    "bcmp",   "pread64", "pwrite64", "open",         "open64",         "access",        "unlink",
    "mkdir",  "rmdir",   "stat",     "stat64",       "lstat",          "lstat64",       "fstat",
    "fstat64", "getcwd", "readlink", "utime",        "fcntl",          "fcntl64",       "munmap",
    "mremap", "fopen",   "fgets",    "fwrite",       "strtol",         "strtoll",       "strtod",
    "strchrnul", "pthread_mutex_init", "pthread_mutex_destroy", "pthread_mutex_lock", "pthread_mutex_trylock",
    "pthread_mutex_unlock", "pthread_mutexattr_init", "pthread_mutexattr_destroy", "pthread_mutexattr_settype",
    "pthread_create",
    // hybrid_libc_system.cc
    "__isoc99_sscanf", "sprintf", "syslog", "openlog", "perror", "fread", "freopen", "__xpg_strerror_r", "strerror",
    "gai_strerror", "strcasecmp", "strncasecmp", "strncat", "strpbrk", "strcoll", "strtold", "strtoul", "strtoull",
    "atoi", "frexp", "modf", "localeconv", "ctime_r", "strftime", "clock_gettime", "nanosleep", "setitimer", "getenv",
    "setenv", "unsetenv", "uname", "getrusage", "getrlimit64", "setrlimit64", "sigemptyset", "sigaddset",
    "pthread_sigmask", "sched_setaffinity", "longjmp", "pthread_setname_np", "pthread_join", "pthread_attr_init",
    "pthread_attr_getstacksize", "pthread_attr_setstacksize", "pthread_cond_init", "pthread_cond_wait",
    "pthread_cond_signal", "pthread_cond_broadcast", "mkostemp64", "chdir", "chmod", "opendir", "readdir64", "closedir",
    "dirname", "get_current_dir_name", "inet_ntop", "inet_pton", "getaddrinfo", "freeaddrinfo",
    // hybrid_signals.cc
    "sigaction", "signal"};
// kCodeWindow is not a register: every compartment's code (flexcap_hybrid_compartment_code).
enum Window : unsigned { kLoadWindow = 0, kStoreWindow = 1, kExecuteWindow = 2, kCodeWindow = 3 };
// kDirectCall is the pass's own: a direct call, which faults (as kExecute) only when its
// target is in another compartment's code.
enum AccessKind : unsigned { kLoad = 0, kStore = 1, kLoadStore = 2, kExecute = 3, kDirectCall = 4 };

// Wrapped functions whose ranges follow from their arguments alone. A direct call to one
// is checked in line, exactly as its wrapper would check it, and then made to the C
// library itself, which saves the wrapper's call (SQLite locks and unlocks a mutex at
// every page of a memory database). Any other use (an address taken) still goes to the
// wrapper.
struct InlineChecked {
  const char* Name;
  unsigned Pointer;           // the argument that points at the range
  AccessKind Kind;            // what the C library does there
  std::uint64_t Size;         // the range's constant size, or 0: ...
  unsigned SizeArgument = 0;  // ... the argument that holds it
};
constexpr std::uint64_t kMutexBytes = 40;  // sizeof(pthread_mutex_t), x86-64 glibc
constexpr InlineChecked kInlineChecked[] = {
    {"pthread_mutex_lock", 0, kLoadStore, kMutexBytes},    {"pthread_mutex_unlock", 0, kLoadStore, kMutexBytes},
    {"pthread_mutex_trylock", 0, kLoadStore, kMutexBytes}, {"memcmp", 0, kLoad, 0, 2},
    {"memcmp", 1, kLoad, 0, 2},                            {"bcmp", 0, kLoad, 0, 2},
    {"bcmp", 1, kLoad, 0, 2},                              {"memchr", 0, kLoad, 0, 2}};

bool inlineChecked(StringRef Name) {
  return any_of(kInlineChecked, [&](const InlineChecked& C) { return Name == C.Name; });
}
constexpr unsigned kChecksField = 6;              // the i64 after the three windows
constexpr unsigned kFastBaseField = 7;            // the fast window of loads and stores: its base
constexpr unsigned kFastLimitField = 8;           // ... and `length - 4096`
constexpr unsigned kRegisterFields = 9;
constexpr std::uint64_t kMaxConstantSize = 4096;  // hybrid_abi.h: no window is shorter

// The C library's own globals that hybrid code reads the value of: the standard streams.
// They live in the C library's data, outside every DDC; hybrid code only loads the
// pointers and hands them back to the C library. Loaded unchecked, and counted.
constexpr const char* kLibraryGlobals[] = {"stdin", "stdout", "stderr", "timezone", "daylight", "tzname"};
// The C library's variables that a program reads and sets (Redis's setproctitle): its
// environment and its name. Loaded and stored unchecked, and counted; the image's start
// puts what they point to in the default compartment (rt::environment_in).
constexpr const char* kLibraryVariables[] = {"environ", "__environ", "program_invocation_name",
                                             "program_invocation_short_name"};

// What the pass did to one module, for the report.
struct Counts {
  std::uint64_t loads = 0, stores = 0, atomics = 0, intrinsics = 0, byval = 0, masked = 0, indirect_calls = 0;
  std::uint64_t direct_calls = 0;  // to functions defined outside the module
  std::uint64_t library_calls = 0;  // ranges of C library calls checked in line (kInlineChecked)
  std::uint64_t exempted_stack = 0;    // inside a local of the current frame
  std::uint64_t exempted_globals = 0;  // inside one of the module's globals, placed in the region
  std::uint64_t merged = 0;                 // loads covered by the check of an earlier load from the same base
  std::uint64_t dominated = 0;              // accesses whose range checks that always run before them proved
  std::uint64_t shared = 0;                 // accesses whose fast comparison is an earlier one's (shareFastChecks())
  std::uint64_t globals = 0;                // moved into the compartment's region
  std::uint64_t library_functions = 0;      // C library functions whose calls go to a checking wrapper
  std::uint64_t thread_local_accesses = 0;  // through %fs, or errno's address: not checked
  std::uint64_t library_globals = 0;        // the C library's variables (stdin, environ, ...), ctype tables: not checked
  std::uint64_t thunks = 0;                 // external functions whose address is taken
  std::uint64_t checked() const {
    return loads + stores + atomics + intrinsics + byval + masked + indirect_calls + direct_calls + library_calls;
  }
};

// One memory operand to check: [Pointer, Pointer + Size) for Kind, before Before.
// Size is a constant (ConstantSize) or a value (Dynamic, e.g. memcpy's length).
struct Operand {
  Operand(Instruction* At, Value* P, AccessKind K, std::uint64_t Size = 0, Value* D = nullptr, Value* E = nullptr)
      : Before(At), Pointer(P), Kind(K), ConstantSize(Size), Dynamic(D), Enabled(E) {}
  Instruction* Before;
  Value* Pointer;
  AccessKind Kind;
  std::uint64_t ConstantSize = 0;
  Value* Dynamic = nullptr;
  Value* Enabled = nullptr;  // for a masked lane: the lane's mask bit (checked only when set)
  // A check that covers several loads (mergeable()): their pointers and sizes, in order,
  // so that a failed check still reports the first load that is out of bounds.
  SmallVector<std::pair<Value*, std::uint64_t>, 2> Members;
  // shareFastChecks(): the operand whose fast comparison stands for this one's (an index
  // into the function's operands, earlier than this one), or -1.
  std::ptrdiff_t Leader = -1;
  // For a leader: the address its fast comparison takes, as an offset from the base of
  // its pointer (set where the comparison stands for others), so that a pass covers
  // [base + Anchor, base + Anchor + 4096).
  Optional<std::int64_t> Anchor;
  bool Followed = false;  // some later operand has this one as its leader
};

class Instrumenter {
 public:
  explicit Instrumenter(Module& Mod)
      : M(Mod), DL(Mod.getDataLayout()), Ctx(Mod.getContext()), I64(Type::getInt64Ty(Ctx)), I32(Type::getInt32Ty(Ctx)) {
    auto* RegistersTy = ArrayType::get(I64, kRegisterFields);
    Registers = M.getGlobalVariable(kRegisters);
    if (Registers == nullptr) {
      Registers = new GlobalVariable(M, RegistersTy, /*isConstant=*/false, GlobalValue::ExternalLinkage, nullptr,
                                     kRegisters, nullptr, GlobalValue::InitialExecTLSModel);
    }
    CompartmentCode = M.getGlobalVariable(kCompartmentCode);
    if (CompartmentCode == nullptr) {
      CompartmentCode = new GlobalVariable(M, ArrayType::get(I64, 2), /*isConstant=*/false,
                                           GlobalValue::ExternalLinkage, nullptr, kCompartmentCode);
    }
    Fault = M.getOrInsertFunction(kFault, FunctionType::get(Type::getVoidTy(Ctx), {I64, I64, I32}, false));
    if (auto* F = dyn_cast<Function>(Fault.getCallee())) {
      F->addFnAttr(Attribute::Cold);
      F->addFnAttr(Attribute::NoInline);
      F->addFnAttr(Attribute::NoReturn);
    }
    Unlikely = MDBuilder(Ctx).createBranchWeights(1, 1u << 20);
  }

  Counts run() {
    for (Function& F : M) {
      if (F.isDeclaration() || F.hasFnAttribute(Attribute::Naked) || F.getName().startswith("flexcap_hybrid_")) {
        continue;
      }
      instrument(F);
    }
    return Total;
  }

 private:
  // --- Which operands an instruction has -----------------------------------------------

  void collect(Instruction& I, SmallVectorImpl<Operand>& Out) {
    if (auto* LI = dyn_cast<LoadInst>(&I)) {
      add(Out, &I, LI->getPointerOperand(), kLoad, LI->getType(), Total.loads);
    } else if (auto* SI = dyn_cast<StoreInst>(&I)) {
      add(Out, &I, SI->getPointerOperand(), kStore, SI->getValueOperand()->getType(), Total.stores);
    } else if (auto* RMW = dyn_cast<AtomicRMWInst>(&I)) {
      add(Out, &I, RMW->getPointerOperand(), kLoadStore, RMW->getValOperand()->getType(), Total.atomics);
    } else if (auto* CX = dyn_cast<AtomicCmpXchgInst>(&I)) {
      add(Out, &I, CX->getPointerOperand(), kLoadStore, CX->getNewValOperand()->getType(), Total.atomics);
    } else if (auto* MT = dyn_cast<MemTransferInst>(&I)) {
      addRange(Out, &I, MT->getRawSource(), kLoad, MT->getLength(), Total.intrinsics);
      addRange(Out, &I, MT->getRawDest(), kStore, MT->getLength(), Total.intrinsics);
    } else if (auto* MS = dyn_cast<MemSetInst>(&I)) {
      addRange(Out, &I, MS->getRawDest(), kStore, MS->getLength(), Total.intrinsics);
    } else if (auto* II = dyn_cast<IntrinsicInst>(&I)) {
      collectMasked(*II, Out);
    } else if (auto* CB = dyn_cast<CallBase>(&I)) {
      for (unsigned A = 0; A < CB->arg_size(); ++A) {
        // A by-value argument is copied from this pointer by the call itself.
        if (Type* T = CB->getParamByValType(A)) add(Out, &I, CB->getArgOperand(A), kLoad, T, Total.byval);
      }
      if (CB->isIndirectCall()) {
        Out.push_back({&I, CB->getCalledOperand(), kExecute, 1});
        ++Total.indirect_calls;
      } else if (auto* Callee = dyn_cast<Function>(CB->getCalledOperand()->stripPointerCasts());
                 Callee != nullptr && Callee->isDeclaration() && !Callee->isIntrinsic() &&
                 !Callee->getName().startswith("flexcap_hybrid_")) {
        // Defined elsewhere: in this compartment's code, the C library (which every
        // compartment may call, as if linked into its code), or — the one that faults, as
        // the fetch would on Morello — another compartment's code.
        Out.push_back({&I, Callee, kDirectCall, 1});
        ++Total.direct_calls;
        // Then what the C library will touch, for a call checked in line.
        for (const InlineChecked& C : kInlineChecked) {
          if (Callee->getName() != C.Name) continue;
          if (C.Size != 0) {
            addSized(Out, &I, CB->getArgOperand(C.Pointer), C.Kind, C.Size, Total.library_calls);
          } else {
            addRange(Out, &I, CB->getArgOperand(C.Pointer), C.Kind, CB->getArgOperand(C.SizeArgument),
                     Total.library_calls);
          }
        }
      }
    }
  }

  // Masked vector accesses: each active lane is an access of one element.
  void collectMasked(IntrinsicInst& II, SmallVectorImpl<Operand>& Out) {
    Value* Pointer = nullptr;
    Value* Mask = nullptr;
    Type* VectorTy = nullptr;
    AccessKind Kind = kLoad;
    bool Gather = false;
    switch (II.getIntrinsicID()) {
      case Intrinsic::masked_load:
        Pointer = II.getArgOperand(0), Mask = II.getArgOperand(2), VectorTy = II.getType();
        break;
      case Intrinsic::masked_store:
        Pointer = II.getArgOperand(1), Mask = II.getArgOperand(3), VectorTy = II.getArgOperand(0)->getType();
        Kind = kStore;
        break;
      case Intrinsic::masked_gather:
        Pointer = II.getArgOperand(0), Mask = II.getArgOperand(2), VectorTy = II.getType(), Gather = true;
        break;
      case Intrinsic::masked_scatter:
        Pointer = II.getArgOperand(1), Mask = II.getArgOperand(3), VectorTy = II.getArgOperand(0)->getType();
        Kind = kStore, Gather = true;
        break;
      case Intrinsic::masked_expandload:
      case Intrinsic::masked_compressstore: {
        // Contiguous: as many elements as the mask has set bits.
        const bool Load = II.getIntrinsicID() == Intrinsic::masked_expandload;
        Pointer = II.getArgOperand(Load ? 0 : 1);
        Mask = II.getArgOperand(Load ? 1 : 2);
        auto* VT = cast<FixedVectorType>(Load ? II.getType() : II.getArgOperand(0)->getType());
        IRBuilder<> B(&II);
        Value* Bits = B.CreateBitCast(Mask, B.getIntNTy(VT->getNumElements()));
        Value* Count = B.CreateZExt(B.CreateUnaryIntrinsic(Intrinsic::ctpop, Bits), I64);
        Value* Bytes = B.CreateMul(Count, ConstantInt::get(I64, DL.getTypeStoreSize(VT->getElementType())));
        Out.push_back({&II, Pointer, Load ? kLoad : kStore, 0, Bytes});
        ++Total.masked;
        return;
      }
      default: return;
    }
    auto* VT = dyn_cast<FixedVectorType>(VectorTy);
    if (VT == nullptr) return;  // scalable vectors do not occur on x86
    const std::uint64_t Element = DL.getTypeStoreSize(VT->getElementType());
    IRBuilder<> B(&II);
    for (unsigned Lane = 0; Lane < VT->getNumElements(); ++Lane) {
      Value* LanePointer =
          Gather ? B.CreateExtractElement(Pointer, Lane)
                 : B.CreateConstGEP1_64(B.getInt8Ty(), B.CreatePointerCast(Pointer, B.getInt8PtrTy()), Lane * Element);
      Value* Active = B.CreateExtractElement(Mask, Lane);
      Out.push_back({&II, LanePointer, Kind, Element, nullptr, Active});
    }
    ++Total.masked;
  }

  // errno (and other thread-local state the C library hands out by address) lives in the
  // thread's TLS block, outside every DDC: like the thread-locals of hybrid code it is
  // reached unchecked (cc/README.md says so).
  static bool threadLocal(Value* Pointer) {
    Value* Base = getUnderlyingObject(Pointer);
    if (auto* G = dyn_cast<GlobalVariable>(Base)) return G->isThreadLocal();
    return libraryStateCall(Base) != nullptr;
  }

  // A call to one of the C library functions that hand out the address of the thread's
  // own state: errno, and the locale's character tables (what <ctype.h> reads).
  static const CallInst* libraryStateCall(Value* V) {
    const auto* Call = dyn_cast<CallInst>(V);
    const Function* Callee = Call != nullptr ? Call->getCalledFunction() : nullptr;
    if (Callee == nullptr) return nullptr;
    const StringRef Name = Callee->getName();
    const bool State = Name == "__errno_location" || Name == "__ctype_b_loc" || Name == "__ctype_tolower_loc" ||
                       Name == "__ctype_toupper_loc";
    return State ? Call : nullptr;
  }

  // A read of the locale's character tables (isdigit(c), toupper(c): the table's address
  // comes from __ctype_b_loc()). The tables are the C library's read-only data, outside
  // every DDC; reads of them are not checked, and counted.
  static bool localeTable(Value* Pointer) {
    auto* Load = dyn_cast<LoadInst>(getUnderlyingObject(Pointer));
    return Load != nullptr && libraryStateCall(getUnderlyingObject(Load->getPointerOperand())) != nullptr;
  }

  static bool libraryGlobal(Value* Pointer, ArrayRef<const char*> Names) {
    auto* G = dyn_cast<GlobalVariable>(Pointer->stripPointerCasts());
    return G != nullptr && G->isDeclaration() && any_of(Names, [&](const char* Name) { return G->getName() == Name; });
  }

  void add(SmallVectorImpl<Operand>& Out, Instruction* I, Value* Pointer, AccessKind Kind, Type* T,
           std::uint64_t& Counter) {
    if (Pointer->getType()->getPointerAddressSpace() != 0) return;  // segment-relative (TLS): not DDC-checked
    if (threadLocal(Pointer)) {
      ++Total.thread_local_accesses;
      return;
    }
    if (((libraryGlobal(Pointer, kLibraryGlobals) || localeTable(Pointer)) && Kind == kLoad) ||
        libraryGlobal(Pointer, kLibraryVariables)) {
      ++Total.library_globals;
      return;
    }
    addSized(Out, I, Pointer, Kind, DL.getTypeStoreSize(T).getFixedSize(), Counter);
  }

  // An access of a size known at compile time: exempt, one constant-size check, or (past
  // kMaxConstantSize) the variable-size check.
  void addSized(SmallVectorImpl<Operand>& Out, Instruction* I, Value* Pointer, AccessKind Kind, std::uint64_t Size,
                std::uint64_t& Counter) {
    if (Size == 0) return;
    switch (exemption(Pointer, Size)) {
      case Exemption::kStack: ++Total.exempted_stack; return;
      case Exemption::kGlobal: ++Total.exempted_globals; return;
      case Exemption::kNone: break;
    }
    if (Size <= kMaxConstantSize) {
      Out.push_back({I, Pointer, Kind, Size});
    } else {
      Out.push_back({I, Pointer, Kind, 0, ConstantInt::get(I64, Size)});
    }
    ++Counter;
  }

  void addRange(SmallVectorImpl<Operand>& Out, Instruction* I, Value* Pointer, AccessKind Kind, Value* Length,
                std::uint64_t& Counter) {
    if (Pointer->getType()->getPointerAddressSpace() != 0) return;
    if (auto* C = dyn_cast<ConstantInt>(Length)) {
      addSized(Out, I, Pointer, Kind, C->getZExtValue(), Counter);
      return;
    }
    Out.push_back({I, Pointer, Kind, 0, Length});
    ++Counter;
  }

  // Why an access needs no check: every address it may touch lies inside one object that
  // the DDC covers wherever this code runs.
  enum class Exemption { kNone, kStack, kGlobal };

  Exemption exemption(Value* Pointer, std::uint64_t Size) {
    Value* Base = nullptr;
    APInt Low, High;
    if (!offsetRange(Pointer, Base, Low, High) || Low.isNegative()) return Exemption::kNone;
    auto Fits = [&](std::uint64_t Bytes) { return Size <= Bytes && High.getZExtValue() <= Bytes - Size; };
    if (auto* Alloca = dyn_cast<AllocaInst>(Base)) {
      // A local of this function's frame, which lies on a stack inside the DDC.
      if (!StackExemption || !Alloca->isStaticAlloca()) return Exemption::kNone;
      const Optional<TypeSize> Allocated = Alloca->getAllocationSizeInBits(DL);
      if (!Allocated || Allocated->isScalable()) return Exemption::kNone;
      return Fits(Allocated->getFixedSize() / 8) ? Exemption::kStack : Exemption::kNone;
    }
    if (auto* G = dyn_cast<GlobalVariable>(Base); G != nullptr && GlobalExemption && placedInRegion(*G)) {
      return Fits(DL.getTypeAllocSize(G->getValueType())) ? Exemption::kGlobal : Exemption::kNone;
    }
    return Exemption::kNone;
  }

  // Whether placeGlobals() moves G into the library's globals section, which the image's
  // linker script puts in the compartment's region, and this definition is the one the
  // image links (not a weak or common one another file may replace, perhaps in another
  // compartment's library).
  static bool placedInRegion(const GlobalVariable& G) {
    return !GlobalsSection.empty() && !G.isDeclaration() && !G.isThreadLocal() && !G.hasSection() &&
           !G.getName().startswith("llvm.") && !G.isInterposable() && !G.hasCommonLinkage() &&
           !G.hasAvailableExternallyLinkage() && G.hasExactDefinition();
  }

  // The offsets, [Low, High] as signed bytes, that Pointer may have from the object it is
  // derived from (Base), through a chain of GEPs whose indices are constants or values
  // of known range. False when a range is unknown or may wrap.
  bool offsetRange(Value* Pointer, Value*& Base, APInt& Low, APInt& High) {
    constexpr unsigned kBits = 64;
    ConstantRange Sum(APInt(kBits, 0));
    Value* V = Pointer->stripPointerCasts();
    for (unsigned Depth = 0; Depth < 8; ++Depth) {
      auto* GEP = dyn_cast<GEPOperator>(V);
      if (GEP == nullptr) break;
      MapVector<Value*, APInt> Variable;
      APInt Constant(kBits, 0);
      if (!GEP->collectOffset(DL, kBits, Variable, Constant)) return false;
      ConstantRange Offset(Constant);
      for (auto& [Index, Scale] : Variable) {
        // GEP indices are signed: the range of the index as a signed value, narrowed by
        // its known bits (a zero extension, a mask).
        ConstantRange Range = computeConstantRange(Index, /*ForSigned=*/true, /*UseInstrInfo=*/true, nullptr,
                                                   dyn_cast<Instruction>(Index));
        Range = Range.intersectWith(ConstantRange::fromKnownBits(computeKnownBits(Index, DL), /*IsSigned=*/true));
        Range = Range.sextOrTrunc(kBits).smul_fast(ConstantRange(Scale.sextOrTrunc(kBits)));
        Offset = Offset.addWithNoWrap(Range, OverflowingBinaryOperator::NoSignedWrap);
        if (Offset.isFullSet() || Offset.isEmptySet()) return false;
      }
      Sum = Sum.addWithNoWrap(Offset, OverflowingBinaryOperator::NoSignedWrap);
      if (Sum.isFullSet() || Sum.isEmptySet() || Sum.isSignWrappedSet()) return false;
      V = GEP->getPointerOperand()->stripPointerCasts();
    }
    Base = V;
    Low = Sum.getSignedMin();
    High = Sum.getSignedMax();
    return true;
  }

  // --- The checks -------------------------------------------------------------------------

  // The windows an operand is checked against.
  static SmallVector<unsigned, 2> windowsOf(AccessKind Kind) {
    switch (Kind) {
      case kLoad: return {kLoadWindow};
      case kStore: return {kStoreWindow};
      case kLoadStore: return {kLoadWindow, kStoreWindow};
      case kExecute: return {kExecuteWindow};
      case kDirectCall: return {kExecuteWindow, kCodeWindow};
    }
    return {};
  }

  // Loads and stores of a constant size are compared with the fast window alone
  // (hybrid_abi.h): one base and one limit for the whole function, whatever their kinds
  // and sizes, so that they stay in registers.
  static bool fast(const Operand& Op) {
    return Op.Dynamic == nullptr && (Op.Kind == kLoad || Op.Kind == kStore || Op.Kind == kLoadStore);
  }

  // Loads, at the function's entry, every window field and `length - size` that its
  // checks use: once per function, before any check (so they dominate all of them).
  void prepare(Function& F, ArrayRef<Operand> Operands) {
    Fields.clear();
    Limits.clear();
    FastBase = FastLimit = nullptr;
    Instruction* Point = &*F.getEntryBlock().getFirstInsertionPt();
    while (isa<AllocaInst>(Point)) Point = Point->getNextNode();
    IRBuilder<> B(Point);
    for (const Operand& Op : Operands) {
      if (fast(Op)) {
        if (FastBase == nullptr) {
          FastBase = B.CreateLoad(I64, registerField(B, kFastBaseField), "flexcap.fast.base");
          FastLimit = B.CreateLoad(I64, registerField(B, kFastLimitField), "flexcap.fast.limit");
        }
        continue;
      }
      for (unsigned Window : windowsOf(Op.Kind)) {
        for (unsigned Index : {2 * Window, 2 * Window + 1}) {
          if (Fields.count(Index) != 0) continue;
          Value* Address =
              Window == kCodeWindow
                  ? B.CreateConstInBoundsGEP2_32(CompartmentCode->getValueType(), CompartmentCode, 0, Index % 2)
                  : registerField(B, Index);
          Fields[Index] = B.CreateLoad(I64, Address, "flexcap.window");
        }
        const std::uint64_t Size = Op.ConstantSize;  // indirect and direct calls: 1
        if (Op.Dynamic != nullptr || Window == kCodeWindow || Limits.count({Window, Size}) != 0) continue;
        Limits[{Window, Size}] = B.CreateSub(Fields[2 * Window + 1], ConstantInt::get(I64, Size), "flexcap.limit");
      }
    }
  }

  Value* field(unsigned Index) { return Fields.at(Index); }
  Value* registerField(IRBuilder<>& B, unsigned Index) {
    return B.CreateConstInBoundsGEP2_32(Registers->getValueType(), Registers, 0, Index);
  }
  Value* limit(unsigned Window, std::uint64_t Size) { return Limits.at({Window, Size}); }

  // Whether Address fails the fast window: `address - fast_base > fast_limit`, true for
  // every access that leaves the DDC and for a few that do not (the cold path decides).
  Value* fastOutside(IRBuilder<>& B, Value* Address) {
    return B.CreateICmpUGT(B.CreateSub(Address, FastBase), FastLimit);
  }

  // Whether [Address, Address + size) leaves the window (an i1 computed before B's point).
  Value* outside(IRBuilder<>& B, unsigned Window, Value* Address, const Operand& Op) {
    Value* Offset = B.CreateSub(Address, field(2 * Window));
    if (Op.Dynamic == nullptr) return B.CreateICmpUGT(Offset, limit(Window, Op.ConstantSize));
    // A variable size: it must fit the window at all, and it may be zero (no access).
    Value* Length = field(2 * Window + 1);
    Value* Size = B.CreateZExtOrTrunc(Op.Dynamic, I64);
    Value* TooLong = B.CreateICmpUGT(Size, Length);
    Value* Beyond = B.CreateICmpUGT(Offset, B.CreateSub(Length, Size));
    return B.CreateAnd(B.CreateICmpNE(Size, ConstantInt::get(I64, 0)), B.CreateOr(TooLong, Beyond));
  }

  // Whether [Address, Address + Size) leaves the window of Kind (both windows for an
  // atomic), decided exactly: what the cold path of a failed fast comparison asks. The
  // window is read here, so nothing of it stays live on the hot path.
  Value* exactlyOutside(IRBuilder<>& B, AccessKind Kind, Value* Address, std::uint64_t Size) {
    Value* Bad = nullptr;
    for (unsigned Window : windowsOf(Kind)) {
      Value* Base = B.CreateLoad(I64, registerField(B, 2 * Window));
      Value* Length = B.CreateLoad(I64, registerField(B, 2 * Window + 1));
      Value* Out = B.CreateICmpUGT(B.CreateSub(Address, Base), B.CreateSub(Length, ConstantInt::get(I64, Size)));
      Bad = Bad == nullptr ? Out : B.CreateOr(Bad, Out);
    }
    return Bad;
  }

  // Emits, before `Before` (on a cold path): if [Pointer, Pointer + Size) leaves the
  // window of Kind, fault with it; else carry on at `Before`.
  void faultIfOutside(Instruction* Before, Value* Pointer, std::uint64_t Size, AccessKind Kind) {
    IRBuilder<> B(Before);
    Value* Address = B.CreatePtrToInt(Pointer, I64);
    Instruction* Then =
        SplitBlockAndInsertIfThen(exactlyOutside(B, Kind, Address, Size), Before, /*Unreachable=*/true, Unlikely);
    IRBuilder<>(Then).CreateCall(Fault, {Address, ConstantInt::get(I64, Size), ConstantInt::get(I32, Kind)});
  }

  // Emits Op's check; returns its fast comparison's result (true: failed), for the
  // operands it leads, or null. `LeaderFailed` is its leader's, if it has one.
  Value* check(Operand Op, Value* LeaderFailed) {
    IRBuilder<> B(Op.Before);
    if (fast(Op)) {
      std::int64_t Offset = 0;
      Value* Base = GetPointerBaseWithConstantOffset(Op.Pointer, Offset, DL);
      Value* Bad = LeaderFailed;
      if (Bad == nullptr) {
        // The fast comparison, of the first byte the operand touches, or of its anchor
        // where later operands share it (shareFastChecks()).
        std::int64_t First = Offset;
        if (Op.Members.size() > 1) First = spanOf(Op)->Low;
        if (Op.Followed) First = *Op.Anchor;
        Value* Pointer = First == Offset && Op.Members.size() <= 1
                             ? Op.Pointer
                             : B.CreateConstGEP1_64(B.getInt8Ty(), B.CreatePointerCast(Base, B.getInt8PtrTy()), First);
        Bad = fastOutside(B, B.CreatePtrToInt(Pointer, I64));
        if (Op.Enabled != nullptr) Bad = B.CreateAnd(Bad, Op.Enabled);
      }
      countCheck(B);
      // Where it failed, each access is decided exactly (merged loads in program order:
      // the first one out of bounds faults, as Morello would), and carries on if inside.
      Instruction* Then = SplitBlockAndInsertIfThen(Bad, Op.Before, /*Unreachable=*/false, Unlikely);
      if (Op.Members.size() > 1) {
        for (const auto& [Pointer, Size] : Op.Members) {
          // The member pointers are computed where the loads are; recompute each from the base.
          std::int64_t MemberOffset = 0;
          GetPointerBaseWithConstantOffset(Pointer, MemberOffset, DL);
          IRBuilder<> Cold(Then);
          Value* At = Cold.CreateConstGEP1_64(Cold.getInt8Ty(), Cold.CreatePointerCast(Base, Cold.getInt8PtrTy()),
                                              MemberOffset);
          faultIfOutside(Then, At, Size, kLoad);
        }
      } else {
        faultIfOutside(Then, Op.Pointer, Op.ConstantSize, Op.Kind);
      }
      return LeaderFailed == nullptr ? Bad : nullptr;
    }
    Value* Address = B.CreatePtrToInt(Op.Pointer, I64);
    Value* Bad = nullptr;
    switch (Op.Kind) {
      case kLoad: Bad = outside(B, kLoadWindow, Address, Op); break;
      case kStore: Bad = outside(B, kStoreWindow, Address, Op); break;
      case kLoadStore:
        Bad = B.CreateOr(outside(B, kLoadWindow, Address, Op), outside(B, kStoreWindow, Address, Op));
        break;
      case kExecute: Bad = outside(B, kExecuteWindow, Address, Op); break;
      case kDirectCall:
        // In some compartment's code ([base, base + length), empty until the cheri switcher
        // starts), and outside the running one's PCC.
        Bad = B.CreateAnd(B.CreateICmpULT(B.CreateSub(Address, field(2 * kCodeWindow)), field(2 * kCodeWindow + 1)),
                          outside(B, kExecuteWindow, Address, Op));
        break;
    }
    if (Op.Enabled != nullptr) Bad = B.CreateAnd(Bad, Op.Enabled);
    countCheck(B);
    Instruction* Then = SplitBlockAndInsertIfThen(Bad, Op.Before, /*Unreachable=*/true, Unlikely);
    IRBuilder<> Slow(Then);
    Value* Size = Op.Dynamic != nullptr ? Slow.CreateZExtOrTrunc(Op.Dynamic, I64)
                                        : static_cast<Value*>(ConstantInt::get(I64, Op.ConstantSize));
    const AccessKind Kind = Op.Kind == kDirectCall ? kExecute : Op.Kind;
    Slow.CreateCall(Fault, {Address, Size, ConstantInt::get(I32, Kind)});
    return nullptr;
  }

  void countCheck(IRBuilder<>& B) {
    if (!CountChecks) return;
    Value* Counter = B.CreateConstInBoundsGEP2_32(Registers->getValueType(), Registers, 0, kChecksField);
    B.CreateStore(B.CreateAdd(B.CreateLoad(I64, Counter), ConstantInt::get(I64, 1)), Counter);
  }

  // Loads from one base pointer at constant offsets, in one basic block with nothing
  // between them that writes memory, has another effect or may fault (another checked
  // access), need one check between them: the range they cover. Faulting at the first of
  // them instead of a later one changes nothing anyone can see, since nothing happened in
  // between. (Stores are not merged: an earlier store would then not happen when a later
  // one faults.)
  void collectFunction(Function& F, SmallVectorImpl<Operand>& Operands) {
    for (BasicBlock& BB : F) {
      DenseMap<Value*, std::size_t> Open;  // base pointer -> index of the operand that checks for it
      for (Instruction& I : BB) {
        const std::size_t Before = Operands.size();
        collect(I, Operands);
        auto* Load = dyn_cast<LoadInst>(&I);
        if (Load != nullptr && Operands.size() == Before + 1 && Operands.back().Kind == kLoad &&
            Operands.back().Dynamic == nullptr && !Load->isVolatile() && !Load->isAtomic()) {
          std::int64_t Offset = 0;
          Value* Base = GetPointerBaseWithConstantOffset(Load->getPointerOperand(), Offset, DL);
          const std::uint64_t Size = Operands.back().ConstantSize;
          auto It = Open.find(Base);
          if (It != Open.end() && mergeable(Operands[It->second], Offset, Size)) {
            Operands[It->second].Members.push_back({Load->getPointerOperand(), Size});
            Operands.pop_back();
            ++Total.merged;
          } else {
            // A load of its own check: later loads from the other bases stay behind it.
            Operands.back().Members = {{Load->getPointerOperand(), Size}};
            Open.clear();
            Open[Base] = Operands.size() - 1;
          }
        } else if (Operands.size() != Before || I.mayWriteToMemory() || I.mayHaveSideEffects() ||
                   isa<CallBase>(I) || (!isa<LoadInst>(I) && !isSafeToSpeculativelyExecute(&I))) {
          // Anything that may fault in between ends the groups: an access checked on its
          // own (a load from another pointer may fault first, and must), a division that
          // traps. Faulting at an earlier load for a later one would skip that fault.
          Open.clear();
        }
      }
    }
  }

  // Whether a load at `Offset` of `Size` bytes can join the check of `Leader`: the range
  // they cover stays one a constant-size check handles.
  bool mergeable(const Operand& Leader, std::int64_t Offset, std::uint64_t Size) const {
    std::int64_t Low = Offset;
    std::int64_t High = Offset + static_cast<std::int64_t>(Size);
    for (const auto& [Pointer, Bytes] : Leader.Members) {
      std::int64_t O = 0;
      GetPointerBaseWithConstantOffset(Pointer, O, DL);
      Low = std::min(Low, O);
      High = std::max(High, O + static_cast<std::int64_t>(Bytes));
    }
    return static_cast<std::uint64_t>(High - Low) <= kMaxConstantSize;
  }

  // The bytes a constant-size load or store (or merged loads) touches, as offsets from
  // one base pointer; None for the other operands.
  struct Span {
    Value* Base = nullptr;
    std::int64_t Low = 0, High = 0;
  };
  Optional<Span> spanOf(const Operand& Op) const {
    if (Op.Dynamic != nullptr || Op.Enabled != nullptr ||
        (Op.Kind != kLoad && Op.Kind != kStore && Op.Kind != kLoadStore)) {
      return None;
    }
    SmallVector<std::pair<Value*, std::uint64_t>, 2> Accesses(Op.Members.begin(), Op.Members.end());
    if (Accesses.empty()) Accesses.push_back({Op.Pointer, Op.ConstantSize});
    Span S{nullptr, INT64_MAX, INT64_MIN};
    for (const auto& [Pointer, Size] : Accesses) {
      std::int64_t Offset = 0;
      Value* Base = GetPointerBaseWithConstantOffset(Pointer, Offset, DL);
      if (S.Base != nullptr && Base != S.Base) return None;
      S.Base = Base;
      S.Low = std::min(S.Low, Offset);
      S.High = std::max(S.High, Offset + static_cast<std::int64_t>(Size));
    }
    return S;
  }

  // A check is redundant where checks that always run before it (they dominate it), on
  // the same base pointer and window, already proved its whole range inside the window.
  // Exact, since such a check could never fail: the window is constant within an
  // activation (see above); an SSA value is the same wherever its definition dominates,
  // so the dominating checks saw the same pointer; and the window is contiguous, so when
  // [p + a, p + b) and [p + c, p + d) passed, so does every range between them. (Unlike
  // merging, this needs no care about what happens in between.)
  void dropDominated(Function& F, SmallVectorImpl<Operand>& Operands) {
    SmallVector<Optional<Span>, 64> Spans;
    DenseMap<Value*, SmallVector<std::size_t, 4>> ByBase;
    for (std::size_t I = 0; I < Operands.size(); ++I) {
      Spans.push_back(spanOf(Operands[I]));
      if (Spans.back()) ByBase[Spans.back()->Base].push_back(I);
    }
    DominatorTree DT(F);
    SmallVector<bool, 64> Drop(Operands.size(), false);
    for (auto& [Base, Group] : ByBase) {
      if (Group.size() < 2) continue;
      for (std::size_t I : Group) {
        bool Covered = true;
        for (unsigned Window : windowsOf(Operands[I].Kind)) {
          std::int64_t Low = INT64_MAX, High = INT64_MIN;
          for (std::size_t J : Group) {
            const auto Windows = windowsOf(Operands[J].Kind);
            if (J == I || Operands[J].Before == Operands[I].Before || !is_contained(Windows, Window) ||
                !DT.dominates(Operands[J].Before, Operands[I].Before)) {
              continue;
            }
            Low = std::min(Low, Spans[J]->Low);
            High = std::max(High, Spans[J]->High);
          }
          if (Low > Spans[I]->Low || High < Spans[I]->High) Covered = false;
        }
        Drop[I] = Covered;
      }
    }
    std::size_t Kept = 0;
    for (std::size_t I = 0; I < Operands.size(); ++I) {
      if (Drop[I]) {
        Total.dominated += std::max<std::size_t>(1, Operands[I].Members.size());
        continue;
      }
      if (Kept != I) Operands[Kept] = std::move(Operands[I]);
      ++Kept;
    }
    Operands.erase(Operands.begin() + Kept, Operands.end());
  }

  // A passed fast comparison of address a proves more than its own access: the DDC is
  // readable and writable (else the fast window is empty) and [a, a + 4096) lies inside
  // it (the window stops 4096 bytes short of the top). So a later load or store through
  // the same pointer, in those 4096 bytes, where the comparison always ran first (it
  // dominates), needs only that comparison's result: a branch on it, not a comparison of
  // its own. Where it failed, each such access is decided exactly on its own cold path,
  // at its own place, and faults there or carries on, as now. Exact: its kind, its
  // place and what ran before it are unchanged.
  //
  // The leader compares its pointer's base (offset 0) where its own bytes lie in the
  // first 4096, so that it covers the fields before its own too (a struct's); else its
  // own first byte.
  void shareFastChecks(Function& F, SmallVectorImpl<Operand>& Operands) {
    DominatorTree DT(F);
    DenseMap<Value*, SmallVector<std::size_t, 4>> Leaders;  // base pointer -> its leaders so far
    for (std::size_t I = 0; I < Operands.size(); ++I) {
      Operand& Op = Operands[I];
      const Optional<Span> S = spanOf(Op);
      if (!S) continue;
      auto& Candidates = Leaders[S->Base];
      for (std::size_t J : Candidates) {
        const Operand& Leader = Operands[J];
        if (*Leader.Anchor <= S->Low && S->High <= *Leader.Anchor + static_cast<std::int64_t>(kMaxConstantSize) &&
            Leader.Before != Op.Before && DT.dominates(Leader.Before, Op.Before)) {
          Op.Leader = static_cast<std::ptrdiff_t>(J);
          Operands[J].Followed = true;
          break;
        }
      }
      if (Op.Leader >= 0) {
        Total.shared += std::max<std::size_t>(1, Op.Members.size());
        continue;
      }
      const bool FromBase = S->Low >= 0 && S->High <= static_cast<std::int64_t>(kMaxConstantSize);
      Op.Anchor = FromBase ? 0 : S->Low;
      Candidates.push_back(I);
    }
  }

  void instrument(Function& F) {
    SmallVector<Operand, 64> Operands;
    collectFunction(F, Operands);
    if (DominatedChecks) dropDominated(F, Operands);
    if (SharedFastChecks) shareFastChecks(F, Operands);
    if (Operands.empty()) return;
    prepare(F, Operands);
    SmallVector<Value*, 64> Failed(Operands.size(), nullptr);  // each leader's fast comparison
    for (std::size_t I = 0; I < Operands.size(); ++I) {
      const std::ptrdiff_t Leader = Operands[I].Leader;
      Failed[I] = check(Operands[I], Leader >= 0 ? Failed[static_cast<std::size_t>(Leader)] : nullptr);
    }
    // What earlier passes inferred no longer holds: the function now reads the registers
    // and may raise a capability fault (a C++ exception unwinding through it).
    for (Attribute::AttrKind Kind :
         {Attribute::ReadNone, Attribute::ReadOnly, Attribute::WriteOnly, Attribute::ArgMemOnly,
          Attribute::InaccessibleMemOnly, Attribute::InaccessibleMemOrArgMemOnly, Attribute::NoUnwind}) {
      F.removeFnAttr(Kind);
    }
  }

  Module& M;
  const DataLayout& DL;
  LLVMContext& Ctx;
  Type* I64;
  Type* I32;
  GlobalVariable* Registers = nullptr;
  GlobalVariable* CompartmentCode = nullptr;
  FunctionCallee Fault;
  MDNode* Unlikely = nullptr;
  std::map<unsigned, Value*> Fields;
  std::map<std::pair<unsigned, std::uint64_t>, Value*> Limits;
  Value* FastBase = nullptr;   // the fast window's base, and its one limit (prepare())
  Value* FastLimit = nullptr;
  Counts Total;
};

// Whether a use of a function takes its address (anything but being a call's callee).
bool takesAddress(const Use& U) {
  const auto* Call = dyn_cast<CallBase>(U.getUser());
  return Call == nullptr || !Call->isCallee(&U);
}

// Hybrid code may take the address of a C library function (SQLite's table of system
// calls holds open, read, fcntl, ...: by now the runtime's checking wrappers of them)
// and call it indirectly; the target must then be in the PCC, which is the code of the
// compartment's own libraries. Every external function whose address is taken — the C
// library's, the runtime's wrappers, anyone's — is represented by a thunk in the
// module's text that jumps to it (and forwards variadic arguments); direct calls stay
// direct. C needs one address per function, so the thunk is the function's address in
// every module of the image: one definition, merged at link time (link-once, in a comdat
// of its name), and a module that defines an external function whose address it takes
// points those uses at the same thunk (Redis compares c->cmd->proc with execCommand,
// one taken in commands.c, the other in server.c).
std::uint64_t addThunks(Module& M) {
  SmallVector<Function*, 32> Taken;
  for (Function& F : M) {
    if (F.isIntrinsic() || F.hasLocalLinkage() || F.hasFnAttribute("thunk")) continue;
    if (any_of(F.uses(), takesAddress)) Taken.push_back(&F);
  }
  for (Function* F : Taken) {
    const std::string Name = ("flexcap.thunk." + F->getName()).str();
    Function* Thunk = Function::Create(F->getFunctionType(), GlobalValue::LinkOnceODRLinkage, Name, M);
    Thunk->setVisibility(GlobalValue::HiddenVisibility);
    Thunk->setComdat(M.getOrInsertComdat(Name));
    F->replaceAllUsesWith(Thunk);
    // ... except as the callee of a call: those stay direct.
    for (User* U : make_early_inc_range(Thunk->users())) {
      if (auto* Call = dyn_cast<CallBase>(U); Call != nullptr && Call->getCalledOperand() == Thunk) {
        Call->setCalledOperand(F);
      }
    }
    Thunk->addFnAttr("thunk");  // a musttail call in a thunk forwards variadic arguments
    IRBuilder<> B(BasicBlock::Create(M.getContext(), "", Thunk));
    SmallVector<Value*, 8> Arguments;
    for (Argument& A : Thunk->args()) Arguments.push_back(&A);
    CallInst* Call = B.CreateCall(F->getFunctionType(), F, Arguments);
    Call->setTailCallKind(CallInst::TCK_MustTail);
    if (F->getReturnType()->isVoidTy()) {
      B.CreateRetVoid();
    } else {
      B.CreateRet(Call);
    }
  }
  return Taken.size();
}

// The wrapped functions that allocate, and pthread_create: redirected even when nothing
// is checked (a library's objects then live in its compartment's region, which a page
// backend protects, and a plain build allocates as its hybrid twin does; its threads run
// in the compartment that started them).
bool allocates(StringRef Name) {
  return Name == "malloc" || Name == "calloc" || Name == "realloc" || Name == "free" || Name == "posix_memalign" ||
         Name == "aligned_alloc" || Name == "malloc_usable_size" || Name == "strdup" || Name == "strndup" ||
         Name == "pthread_create";
}

// Points every use of a wrapped C library function at its wrapper (only the allocating
// ones unless `Checked`). Returns how many functions the module used.
std::uint64_t redirectLibraryCalls(Module& M, bool Checked) {
  std::uint64_t Redirected = 0;
  for (const char* Name : kWrapped) {
    if (!Checked && !allocates(Name)) continue;
    Function* F = M.getFunction(Name);
    if (F == nullptr || !F->isDeclaration()) continue;
    FunctionCallee Wrapper = M.getOrInsertFunction(std::string("flexcap_hybrid_") + Name, F->getFunctionType());
    Constant* To = ConstantExpr::getBitCast(cast<Constant>(Wrapper.getCallee()), F->getType());
    if (Checked && inlineChecked(Name)) {
      // Direct calls stay: the instrumenter checks them in line.
      F->replaceUsesWithIf(To, takesAddress);
    } else {
      F->replaceAllUsesWith(To);
    }
    ++Redirected;
  }
  return Redirected;
}

// Moves every global the module defines into `Section`, which the image's linker script
// places in the compartment's region (a NOLOAD section: the loader leaves it zeroed).
// A global with an initial value keeps a constant copy of it outside, and a constructor
// registers the pair; the runtime copies it in, before main and at every restart.
// Thread-local globals stay where they are (their accesses go through %fs and are not
// checked); so do globals the source placed in a section of its own.
// pthread's synchronization objects (and anything holding one): the kernel's futex
// reads and waits on their words.
bool waitedOnByTheKernel(Type* T) {
  if (auto* A = dyn_cast<ArrayType>(T)) return waitedOnByTheKernel(A->getElementType());
  auto* S = dyn_cast<StructType>(T);
  if (S == nullptr) return false;
  if (S->hasName()) {
    const StringRef N = S->getName();
    for (const char* Sync : {"union.pthread_mutex_t", "union.pthread_cond_t", "union.pthread_rwlock_t",
                             "union.pthread_barrier_t", "union.sem_t"}) {
      if (N == Sync || N.startswith(std::string(Sync) + ".")) return true;
    }
  }
  return any_of(S->elements(), waitedOnByTheKernel);
}

// `KeepSynchronization`: leave pthread's synchronization objects where they are, outside
// the region. For plain code on the page backends: a gate closes the caller's region for
// the whole process, and a thread of the caller's compartment that is then in the kernel
// on one of them (futex wait or wake: Redis's background threads on their mutexes and
// condition variables) would get EFAULT, which the C library aborts on; a fault in user
// space the runtime makes wait instead. (Hybrid code's objects stay in its DDC: its
// pthread calls check them there.)
std::uint64_t placeGlobals(Module& M, StringRef Section, bool KeepSynchronization) {
  SmallVector<GlobalVariable*, 64> Moved;
  for (GlobalVariable& G : M.globals()) {
    if (G.isDeclaration() || G.isThreadLocal() || G.hasSection() || G.getName().startswith("llvm.")) continue;
    if (KeepSynchronization && waitedOnByTheKernel(G.getValueType())) continue;
    Moved.push_back(&G);
  }
  if (Moved.empty()) return 0;
  LLVMContext& Ctx = M.getContext();
  const DataLayout& DL = M.getDataLayout();
  Type* I8Ptr = Type::getInt8PtrTy(Ctx);
  Type* I64 = Type::getInt64Ty(Ctx);
  FunctionCallee Register =
      M.getOrInsertFunction(kRegisterGlobal, FunctionType::get(Type::getVoidTy(Ctx), {I8Ptr, I8Ptr, I64}, false));
  Function* Constructor = Function::Create(FunctionType::get(Type::getVoidTy(Ctx), false), GlobalValue::InternalLinkage,
                                           "flexcap.hybrid.initial_values", M);
  IRBuilder<> B(BasicBlock::Create(Ctx, "", Constructor));
  for (GlobalVariable* G : Moved) {
    if (G->hasCommonLinkage()) G->setLinkage(GlobalValue::WeakAnyLinkage);  // a section needs a definition
    Constant* Initial = G->getInitializer();
    G->setSection(Section);
    G->setConstant(false);  // written once by the runtime
    if (Initial->isNullValue()) continue;
    auto* Copy = new GlobalVariable(M, Initial->getType(), /*isConstant=*/true, GlobalValue::PrivateLinkage, Initial,
                                    G->getName() + ".flexcap.initial");
    Copy->setAlignment(G->getAlign());
    G->setInitializer(Constant::getNullValue(Initial->getType()));
    B.CreateCall(Register, {B.CreatePointerCast(G, I8Ptr), B.CreatePointerCast(Copy, I8Ptr),
                            ConstantInt::get(I64, DL.getTypeAllocSize(Initial->getType()))});
  }
  B.CreateRetVoid();
  // Before any ordinary constructor (65535) can call into the library.
  appendToGlobalCtors(M, Constructor, 101);
  return Moved.size();
}

void report(const Module& M, const Counts& C) {
  if (ReportPath.empty()) return;
  std::ofstream Out(ReportPath, std::ios::app);
  Out << "{\"file\": \"" << M.getSourceFileName() << "\", \"instrumented\": " << C.checked()
      << ", \"exempted\": " << C.exempted_stack + C.exempted_globals << ", \"exempted_stack\": " << C.exempted_stack
      << ", \"exempted_globals\": " << C.exempted_globals << ", \"merged\": " << C.merged << ", \"dominated\": " << C.dominated << ", \"shared\": " << C.shared << ", \"loads\": " << C.loads
      << ", \"stores\": " << C.stores << ", \"atomics\": " << C.atomics << ", \"intrinsics\": " << C.intrinsics
      << ", \"byval\": " << C.byval << ", \"masked\": " << C.masked << ", \"indirect_calls\": " << C.indirect_calls
      << ", \"direct_calls\": " << C.direct_calls << ", \"library_calls\": " << C.library_calls
      << ", \"globals_placed\": " << C.globals << ", \"library_functions_wrapped\": " << C.library_functions
      << ", \"thread_local_unchecked\": " << C.thread_local_accesses
      << ", \"library_globals_unchecked\": " << C.library_globals << ", \"thunks\": " << C.thunks << "}\n";
}

// A purecap library's globals go to its compartment's region too (-flexcap-purecap with
// -flexcap-hybrid-globals-section), after the purecap pass has read their initial values.
struct PlaceGlobalsPass : PassInfoMixin<PlaceGlobalsPass> {
  PreservedAnalyses run(Module& M, ModuleAnalysisManager&) {
    if (GlobalsSection.empty() || placeGlobals(M, GlobalsSection, false) == 0) return PreservedAnalyses::all();
    return PreservedAnalyses::none();
  }
  static bool isRequired() { return true; }
};

struct HybridPass : PassInfoMixin<HybridPass> {
  PreservedAnalyses run(Module& M, ModuleAnalysisManager&) {
    // The runtime is what instrumented code calls: checking its own accesses against the
    // DDC would make the switcher depend on what it installs.
    if (const GlobalVariable* R = M.getGlobalVariable(kRegisters); R != nullptr && !R->isDeclaration()) {
      report_fatal_error(Twine("flexcap hybrid pass: ") + M.getSourceFileName() +
                         " defines the hybrid runtime's registers; the runtime must not be instrumented");
    }
    // Calls to the C library go to its wrappers, and taken addresses of external functions
    // to thunks, before the checks: a thunk's own call is then a checked direct call.
    const std::uint64_t Wrapped =
        Checks || !GlobalsSection.empty() ? redirectLibraryCalls(M, Checks) : 0;
    const std::uint64_t Thunks = Checks ? addThunks(M) : 0;
    Counts C = Checks ? Instrumenter(M).run() : Counts{};
    C.library_functions = Wrapped;
    C.thunks = Thunks;
    if (!GlobalsSection.empty()) C.globals = placeGlobals(M, GlobalsSection, /*KeepSynchronization=*/!Checks);
    report(M, C);
    return C.checked() == 0 && C.globals == 0 ? PreservedAnalyses::all() : PreservedAnalyses::none();
  }
  static bool isRequired() { return true; }  // also at -O0, and in optnone functions
};

}  // namespace

extern "C" LLVM_ATTRIBUTE_WEAK PassPluginLibraryInfo llvmGetPassPluginInfo() {
  return {LLVM_PLUGIN_API_VERSION, "FlexcapHybrid", LLVM_VERSION_STRING, [](PassBuilder& PB) {
            PB.registerOptimizerLastEPCallback(
                [](ModulePassManager& MPM, OptimizationLevel) {
                  if (flexcap_pass::purecapRequested()) {
                    flexcap_pass::addPurecapPass(MPM);
                    MPM.addPass(PlaceGlobalsPass());
                  } else {
                    MPM.addPass(HybridPass());
                  }
                });
            PB.registerPipelineParsingCallback(
                [](StringRef Name, ModulePassManager& MPM, ArrayRef<PassBuilder::PipelineElement>) {
                  if (Name == "flexcap-purecap") {
                    flexcap_pass::addPurecapPass(MPM);
                    return true;
                  }
                  if (Name != "flexcap-hybrid") return false;
                  MPM.addPass(HybridPass());
                  return true;
                });
          }};
}
