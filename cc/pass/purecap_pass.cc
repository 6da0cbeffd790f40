// The purecap pass: unmodified C, compiled so that every pointer behaves as a Morello
// pure-capability pointer. Each pointer value gets its capability's bounds beside it,
// [base, top), set where the object is made and rounded as Morello's compressed bounds
// round them (the capability model's representable_length and alignment, linked into
// this plugin); every load, store, atomic and memory intrinsic through it is checked
// against them in line. How the bounds travel through calls and memory, and what a
// pointer from elsewhere gets, is the contract of cc/runtime/include/flexcap/cc/purecap_abi.h.
//
// Not covered yet (cc/README.md, "Purecap"): representability of a pointer moved far out
// of its bounds (Morello clears its tag; here it keeps it, and its use faults all the
// same), and a data store of the same bytes over a pointer (CHERI clears its tag).
#include <cstdint>
#include <fstream>
#include <functional>
#include <map>
#include <string>

#include "flexcap/cap/capability.hh"
#include "flexcap/cc/purecap_abi.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/Analysis/ValueTracking.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/DebugInfoMetadata.h"
#include "llvm/IR/Dominators.h"
#include "llvm/IR/GetElementPtrTypeIterator.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/InstIterator.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/IntrinsicInst.h"
#include "llvm/IR/MDBuilder.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/PassManager.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Transforms/IPO/AlwaysInliner.h"
#include "llvm/Transforms/InstCombine/InstCombine.h"
#include "llvm/Transforms/Scalar/ADCE.h"
#include "llvm/Transforms/Scalar/EarlyCSE.h"
#include "llvm/Transforms/Scalar/SimplifyCFG.h"
#include "llvm/Transforms/Utils/BasicBlockUtils.h"
#include "llvm/Transforms/Utils/ModuleUtils.h"
#include "purecap_pass.hh"

using namespace llvm;

namespace {

cl::opt<bool> Purecap("flexcap-purecap", cl::desc("Compile as Morello pure-capability code (bounds on every pointer)"),
                      cl::init(false));
cl::opt<bool> PurecapCount("flexcap-purecap-count",
                           cl::desc("Count the checks executed in flexcap_purecap_checks (flexcap bench purecap)"),
                           cl::init(false));
// Measurement only (cc/README.md, "What purecap costs"): leaves one part out, so that a
// benchmark shows what that part costs. The result is not purecap code.
cl::opt<std::string> PurecapAblate("flexcap-purecap-ablate",
                                   cl::desc("Measurement only: leave out the checks, the shadow or the call slots "
                                            "(checks|shadow|slots)"),
                                   cl::init(""));
cl::opt<bool> SubObjectBounds("flexcap-purecap-subobject-bounds",
                              cl::desc("Narrow a pointer to a structure's member to that member where it is made "
                                       "(CHERI LLVM's -cheri-bounds=subobject-safe; off by default, as there)"),
                              cl::init(false));
cl::opt<bool> PurecapDropDominated("flexcap-purecap-drop-dominated",
                                   cl::desc("Drop checks that dominating checks of the same pointer and bounds "
                                            "already proved"),
                                   cl::init(true));
cl::opt<std::string> PurecapReport("flexcap-purecap-report", cl::desc("Append what the purecap pass did to this file"),
                                   cl::init(""));

constexpr unsigned kArgumentSlots = 16;  // FLEXCAP_PURECAP_ARGUMENT_SLOTS
enum AccessKind : unsigned { kLoad = 0, kStore = 1, kLoadStore = 2, kExecute = 3 };

// The C library functions that go to the runtime's purecap wrappers (flexcap_purecap_NAME).
constexpr const char* kWrapped[] = {"malloc_usable_size",
                                    "malloc", "calloc",  "realloc", "free",   "aligned_alloc", "posix_memalign",
                                    "memcpy", "memmove", "memset",  "memcmp", "bcmp",          "memchr",
                                    "strlen", "strcmp",  "strncmp", "strcpy", "strchr",        "strrchr",
                                    "strstr", "strdup",  "puts",    "printf", "snprintf",      "vsnprintf"};

struct Counts {
  std::uint64_t dominated = 0;  // proved by checks that always run before them (not in `checked`)
  std::uint64_t checked = 0, exempted = 0, pointer_loads = 0, pointer_stores = 0, integer_casts = 0, calls = 0;
  std::uint64_t indirect_calls = 0;
  std::uint64_t subobject_bounds = 0;  // pointers to members narrowed (sub-object bounds on)
  std::uint64_t wrapped = 0;
  std::uint64_t global_pointers = 0;  // pointers in globals' initial values, given their shadow at start
};

// A pointer's capability bounds, as two i64 values: [Base, Top). Untagged is [0, 0).
struct Bounds {
  Value* Base = nullptr;
  Value* Top = nullptr;
};

// Raises an object's alignment to what its bounds need to be exact.
MaybeAlign representableAlignment(std::uint64_t Bytes) {
  const std::uint64_t Mask = flexcap::cap::representable_alignment_mask(Bytes);
  return Mask == ~std::uint64_t{0} ? MaybeAlign() : MaybeAlign(~Mask + 1);
}

// The pointer whose address an integer was computed from (its first operand's, as CHERI C
// derives a uintptr_t result from its left operand), or null.
Value* provenance(Value* V, unsigned Depth) {
  if (Depth > 8) return nullptr;
  if (auto* P = dyn_cast<PtrToIntOperator>(V)) return P->getPointerOperand();
  auto* O = dyn_cast<Operator>(V);  // an instruction or a constant expression
  if (O == nullptr) return nullptr;
  switch (O->getOpcode()) {
    case Instruction::ZExt:
    case Instruction::SExt:
    case Instruction::Trunc: return provenance(O->getOperand(0), Depth + 1);
    case Instruction::Add:
    case Instruction::Sub:
    case Instruction::And:
    case Instruction::Or:
    case Instruction::Xor:
      if (Value* Left = provenance(O->getOperand(0), Depth + 1)) return Left;
      return O->getOpcode() == Instruction::Sub ? nullptr : provenance(O->getOperand(1), Depth + 1);
    default: return nullptr;
  }
}

struct ConstantBounds {
  Constant* Base;
  Constant* Top;
};

// The bounds of a constant pointer: a global's own (its alignment raised where Morello's
// rounding needs it), all of memory for code, untagged for null and integers.
ConstantBounds constantBounds(Constant* C, const DataLayout& DL, Counts& Total) {
  Type* I64 = Type::getInt64Ty(C->getContext());
  auto Int = [&](std::uint64_t V) { return ConstantInt::get(I64, V); };
  const ConstantBounds Untagged{Int(0), Int(0)}, All{Int(0), Int(~std::uint64_t{0})};
  if (isa<ConstantPointerNull>(C) || isa<UndefValue>(C)) return Untagged;
  if (auto* G = dyn_cast<GlobalVariable>(C)) {
    if (G->isThreadLocal()) return All;  // %fs-relative: its address is computed, not loaded
    Type* T = G->getValueType();
    if (!T->isSized()) return All;  // an extern of unknown size: as a hybrid pointer
    const std::uint64_t Bytes = DL.getTypeAllocSize(T);
    if (G->isDeclaration() && Bytes == 0) return All;  // `extern char start[]`: its size is unknown
    if (!G->isDeclaration()) {
      if (MaybeAlign A = representableAlignment(Bytes); A && (!G->getAlign() || *G->getAlign() < *A)) {
        G->setAlignment(A);
      }
    }
    Constant* Base = ConstantExpr::getPtrToInt(G, I64);
    return {Base, ConstantExpr::getAdd(Base, Int(flexcap::cap::representable_length(Bytes)))};
  }
  if (auto* CE = dyn_cast<ConstantExpr>(C)) {
    switch (CE->getOpcode()) {
      case Instruction::GetElementPtr:
      case Instruction::BitCast:
      case Instruction::AddrSpaceCast: return constantBounds(CE->getOperand(0), DL, Total);
      case Instruction::IntToPtr:
        if (auto* Origin = dyn_cast_or_null<Constant>(provenance(CE->getOperand(0), 0))) {
          return constantBounds(Origin, DL, Total);
        }
        ++Total.integer_casts;
        return Untagged;
      default: return All;
    }
  }
  return All;  // functions, aliases
}

// The shadow's in-line paths (purecap_abi.h): functions the pass adds to the module,
// inlined into every use once the pass is done. Each reads or writes an existing chunk's
// entry in line, and calls the runtime only for what is rare: a chunk to make, a
// misaligned slot, tracing on.
struct ShadowAccess {
  Function* Load;   // {base, top} (i64 address, i64 value)
  Function* Store;  // void (i64 address, i64 value, i64 base, i64 top)
};

// The entry of an 8-byte-aligned address in its chunk (null chunk: none yet).
Value* shadowChunk(IRBuilder<>& B, Module& M, Value* Address) {
  Type* I64 = B.getInt64Ty();
  Type* ChunkPtr = PointerType::getUnqual(StructType::get(I64, I64, I64));
  auto* TableTy = ArrayType::get(ChunkPtr, FLEXCAP_PURECAP_SHADOW_CHUNKS);
  auto* Table = cast<GlobalVariable>(M.getOrInsertGlobal("flexcap_purecap_shadow", TableTy));
  Value* Index = B.CreateAnd(B.CreateLShr(Address, FLEXCAP_PURECAP_SHADOW_CHUNK_SHIFT), FLEXCAP_PURECAP_SHADOW_CHUNKS - 1);
  return B.CreateLoad(ChunkPtr, B.CreateInBoundsGEP(TableTy, Table, {B.getInt64(0), Index}));
}

Value* shadowEntry(IRBuilder<>& B, Value* Chunk, Value* Address) {
  Type* I64 = B.getInt64Ty();
  constexpr std::uint64_t Slots = std::uint64_t{1} << (FLEXCAP_PURECAP_SHADOW_CHUNK_SHIFT - 3);
  Value* Slot = B.CreateAnd(B.CreateLShr(Address, 3), Slots - 1);
  return B.CreateInBoundsGEP(StructType::get(I64, I64, I64), Chunk, Slot);
}

ShadowAccess shadowAccess(Module& M) {
  LLVMContext& Ctx = M.getContext();
  Type* I64 = Type::getInt64Ty(Ctx);
  Type* I32 = Type::getInt32Ty(Ctx);
  Type* SlotTy = StructType::get(I64, I64, I64);
  auto* BoundsTy = StructType::get(I64, I64);
  if (Function* L = M.getFunction("flexcap.purecap.shadow_load")) return {L, M.getFunction("flexcap.purecap.shadow_store")};
  auto Make = [&](StringRef Name, FunctionType* T) {
    Function* F = Function::Create(T, GlobalValue::InternalLinkage, Name, M);
    F->addFnAttr(Attribute::AlwaysInline);
    F->addFnAttr(Attribute::NoUnwind);
    return F;
  };
  auto* Trace = cast<GlobalVariable>(M.getOrInsertGlobal("flexcap_purecap_trace", I32));

  // Load: the entry's bounds if it holds this value; else the bounds the caller gives for
  // a miss (untagged, or all of memory where the pointer came from outside instrumented
  // code), and the runtime says why when tracing. Without a use of its result the whole
  // lookup is dead code (the runtime's call is marked removable).
  Function* Load = Make("flexcap.purecap.shadow_load", FunctionType::get(BoundsTy, {I64, I64, I64, I64}, false));
  {
    FunctionCallee Slow = M.getOrInsertFunction("flexcap_purecap_load_meta", FunctionType::get(BoundsTy, {I64, I64}, false));
    Value* Address = Load->getArg(0);
    Value* Bits = Load->getArg(1);
    Value* MissBase = Load->getArg(2);
    Value* MissTop = Load->getArg(3);
    auto* Entry = BasicBlock::Create(Ctx, "", Load);
    auto* Look = BasicBlock::Create(Ctx, "look", Load);
    auto* Hit = BasicBlock::Create(Ctx, "hit", Load);
    auto* Miss = BasicBlock::Create(Ctx, "miss", Load);
    auto* Traced = BasicBlock::Create(Ctx, "traced", Load);
    auto* Untagged = BasicBlock::Create(Ctx, "untagged", Load);
    IRBuilder<> B(Entry);
    Value* Chunk = shadowChunk(B, M, Address);
    Value* Misaligned = B.CreateICmpNE(B.CreateAnd(Address, 7), B.getInt64(0));
    B.CreateCondBr(B.CreateOr(Misaligned, B.CreateIsNull(Chunk)), Miss, Look);
    B.SetInsertPoint(Look);
    Value* E = shadowEntry(B, Chunk, Address);
    Value* Stored = B.CreateLoad(I64, B.CreateStructGEP(SlotTy, E, 0));
    B.CreateCondBr(B.CreateICmpEQ(Stored, Bits), Hit, Miss);
    B.SetInsertPoint(Hit);
    Value* R = UndefValue::get(BoundsTy);
    R = B.CreateInsertValue(R, B.CreateLoad(I64, B.CreateStructGEP(SlotTy, E, 1)), 0);
    R = B.CreateInsertValue(R, B.CreateLoad(I64, B.CreateStructGEP(SlotTy, E, 2)), 1);
    B.CreateRet(R);
    B.SetInsertPoint(Miss);
    B.CreateCondBr(B.CreateICmpNE(B.CreateLoad(I32, Trace), B.getInt32(0)), Traced, Untagged);
    B.SetInsertPoint(Traced);
    CallInst* Why = B.CreateCall(Slow, {Address, Bits});
    Why->addFnAttr(Attribute::ReadOnly);  // (what it writes is a line on stderr)
    Why->addFnAttr(Attribute::NoUnwind);
    Why->addFnAttr(Attribute::WillReturn);
    B.CreateBr(Untagged);
    B.SetInsertPoint(Untagged);
    Value* Given = B.CreateInsertValue(UndefValue::get(BoundsTy), MissBase, 0);
    B.CreateRet(B.CreateInsertValue(Given, MissTop, 1));
  }

  // Store: a tagged pointer into an existing chunk's entry; an untagged value clears an
  // existing entry (a data store over a pointer clears its tag). The rest, to the runtime.
  Function* Store = Make("flexcap.purecap.shadow_store", FunctionType::get(Type::getVoidTy(Ctx), {I64, I64, I64, I64}, false));
  {
    FunctionCallee Slow = M.getOrInsertFunction("flexcap_purecap_store_meta",
                                                FunctionType::get(Type::getVoidTy(Ctx), {I64, I64, I64, I64}, false));
    Value* Address = Store->getArg(0);
    Value* Bits = Store->getArg(1);
    Value* Base = Store->getArg(2);
    Value* Top = Store->getArg(3);
    auto* Entry = BasicBlock::Create(Ctx, "", Store);
    auto* Tagged = BasicBlock::Create(Ctx, "tagged", Store);
    auto* Write = BasicBlock::Create(Ctx, "write", Store);
    auto* Plain = BasicBlock::Create(Ctx, "data", Store);
    auto* Clear = BasicBlock::Create(Ctx, "clear", Store);
    auto* Runtime = BasicBlock::Create(Ctx, "runtime", Store);
    auto* Done = BasicBlock::Create(Ctx, "done", Store);
    IRBuilder<> B(Entry);
    Value* Chunk = shadowChunk(B, M, Address);
    Value* Usable = B.CreateAnd(B.CreateICmpEQ(B.CreateAnd(Address, 7), B.getInt64(0)), B.CreateIsNotNull(Chunk));
    B.CreateCondBr(B.CreateICmpEQ(B.CreateOr(Base, Top), B.getInt64(0)), Plain, Tagged);
    B.SetInsertPoint(Tagged);
    B.CreateCondBr(Usable, Write, Runtime);
    auto WriteEntry = [&](Value* V, Value* Lo, Value* Hi) {
      Value* E = shadowEntry(B, Chunk, Address);
      B.CreateStore(V, B.CreateStructGEP(SlotTy, E, 0));
      B.CreateStore(Lo, B.CreateStructGEP(SlotTy, E, 1));
      B.CreateStore(Hi, B.CreateStructGEP(SlotTy, E, 2));
      B.CreateBr(Done);
    };
    B.SetInsertPoint(Write);
    WriteEntry(Bits, Base, Top);
    B.SetInsertPoint(Plain);
    B.CreateCondBr(B.CreateICmpNE(B.CreateLoad(I32, Trace), B.getInt32(0)), Runtime, Clear);
    B.SetInsertPoint(Clear);
    {
      auto* Now = BasicBlock::Create(Ctx, "clear.now", Store);
      B.CreateCondBr(Usable, Now, Done);
      B.SetInsertPoint(Now);
      WriteEntry(B.getInt64(0), B.getInt64(0), B.getInt64(0));
    }
    B.SetInsertPoint(Runtime);
    B.CreateCall(Slow, {Address, Bits, Base, Top});
    B.CreateBr(Done);
    B.SetInsertPoint(Done);
    B.CreateRetVoid();
  }
  return {Load, Store};
}

class Instrumenter {
 public:
  Instrumenter(Function& Fn, Counts& C)
      : F(Fn), M(*Fn.getParent()), DL(M.getDataLayout()), Ctx(M.getContext()), Total(C) {
    I64 = Type::getInt64Ty(Ctx);
    I32 = Type::getInt32Ty(Ctx);
    auto* SlotTy = StructType::get(I64, I64, I64);
    Arguments = global("flexcap_purecap_arguments", ArrayType::get(SlotTy, kArgumentSlots), true);
    Return = global("flexcap_purecap_return", SlotTy, true);
    auto* BoundsTy = StructType::get(I64, I64);
    const ShadowAccess Shadow = shadowAccess(M);
    LoadMeta = Shadow.Load;
    VariadicMeta = M.getOrInsertFunction("flexcap_purecap_variadic_meta", FunctionType::get(BoundsTy, {I64}, false));
    Variadic = global("flexcap_purecap_variadic", ArrayType::get(SlotTy, kArgumentSlots), true);
    VariadicCount = global("flexcap_purecap_variadic_count", I64, true);
    StoreMeta = Shadow.Store;
    CopyMeta = M.getOrInsertFunction("flexcap_purecap_copy_meta",
                                     FunctionType::get(Type::getVoidTy(Ctx), {I64, I64, I64}, false));
    Fault = M.getOrInsertFunction("flexcap_purecap_fault",
                                  FunctionType::get(Type::getVoidTy(Ctx), {I64, I64, I32, I64, I64}, false));
    if (auto* Fn2 = dyn_cast<Function>(Fault.getCallee())) {
      Fn2->addFnAttr(Attribute::Cold);
      Fn2->addFnAttr(Attribute::NoReturn);
      Fn2->addFnAttr(Attribute::NoInline);
    }
    Unlikely = MDBuilder(Ctx).createBranchWeights(1, 1u << 20);
  }

  void run() {
    // The DDC's bounds, read once at entry (a gate restores it before returning here).
    // Whatever later goes at the entry's start goes after them.
    EntryStart = &*F.getEntryBlock().getFirstInsertionPt();
    {
      IRBuilder<> B(EntryStart);
      auto* Window = StructType::get(I64, I64);
      auto* RegistersTy = StructType::get(Window, Window, Window, I64);
      GlobalVariable* Registers = global("flexcap_hybrid_registers", RegistersTy, true);
      Value* Load = B.CreateConstInBoundsGEP2_32(RegistersTy, Registers, 0, 0);  // the window for loads
      Value* Base = B.CreateLoad(I64, B.CreateConstInBoundsGEP2_32(Window, Load, 0, 0));
      Value* Length = B.CreateLoad(I64, B.CreateConstInBoundsGEP2_32(Window, Load, 0, 1));
      Ddc = {Base, B.CreateAdd(Base, Length)};
    }
    // Phase 1: the bounds of every pointer the function uses, and what to do where.
    // (Phase 1 adds instructions but no blocks: the dominator tree stays true.)
    DT.recalculate(F);
    SmallVector<Instruction*, 64> Work;
    for (Instruction& I : instructions(F)) Work.push_back(&I);
    for (Instruction* I : Work) plan(*I);
    // Every phi's incoming bounds, now that every value has its bounds.
    // (By index: an incoming value's bounds may add phis to the list.)
    for (std::size_t N = 0; N < Phis.size(); ++N) {
      PHINode* Phi = Phis[N].first;
      auto* BasePhi = cast<PHINode>(Phis[N].second.Base);
      auto* TopPhi = cast<PHINode>(Phis[N].second.Top);
      for (unsigned K = 0; K < Phi->getNumIncomingValues(); ++K) {
        const Bounds In = boundsOf(Phi->getIncomingValue(K));
        BasePhi->addIncoming(In.Base, Phi->getIncomingBlock(K));
        TopPhi->addIncoming(In.Top, Phi->getIncomingBlock(K));
      }
    }
    // Phase 2: the checks (which split blocks) and the bookkeeping around calls and stores.
    for (auto& Action : Actions) Action();
  }

 private:
  GlobalVariable* global(StringRef Name, Type* T, bool ThreadLocal) {
    if (GlobalVariable* G = M.getGlobalVariable(Name)) return G;
    return new GlobalVariable(M, T, false, GlobalValue::ExternalLinkage, nullptr, Name, nullptr,
                              ThreadLocal ? GlobalValue::InitialExecTLSModel : GlobalValue::NotThreadLocal);
  }

  Constant* int64(std::uint64_t V) { return ConstantInt::get(I64, V); }
  Bounds untagged() { return {int64(0), int64(0)}; }
  Bounds allMemory() { return {int64(0), int64(~std::uint64_t{0})}; }

  // What a pointer from outside instrumented code gets (from a caller or a callee that is
  // not purecap, or read from memory they wrote): a capability derived from the running
  // compartment's DDC, as a hybrid pointer becomes one on Morello (the whole address space
  // outside an image, where the DDC is unconfined); a pointer to a function, one derived
  // from the PCC (here: all of memory, what a code capability carries).
  Bounds foreign(Type* T) {
    auto* P = dyn_cast<PointerType>(T);
    if (P != nullptr && !P->isOpaque() && P->getNonOpaquePointerElementType()->isFunctionTy()) return allMemory();
    return Ddc;
  }
  // Whether bounds are those of a foreign pointer (then what it points to was written by
  // code that is not purecap: its pointers are foreign too).
  Value* isForeign(IRBuilder<>& B, const Bounds& Bs) {
    Value* Data = B.CreateAnd(B.CreateICmpEQ(Bs.Base, Ddc.Base), B.CreateICmpEQ(Bs.Top, Ddc.Top));
    Value* Code = B.CreateAnd(B.CreateICmpEQ(Bs.Base, int64(0)), B.CreateICmpEQ(Bs.Top, int64(~std::uint64_t{0})));
    return B.CreateOr(Data, Code);
  }

  // Where bounds computed for instruction I go: just after it (after the phis for a phi).
  Instruction* after(Instruction* I) {
    if (isa<PHINode>(I)) return &*I->getParent()->getFirstInsertionPt();
    return I->getNextNode();
  }

  // Bounds [P, P + Morello's representable length of Bytes): an object made here.
  Bounds objectBounds(IRBuilder<>& B, Value* P, std::uint64_t Bytes) {
    Value* Base = B.CreatePtrToInt(P, I64);
    return {Base, B.CreateAdd(Base, int64(flexcap::cap::representable_length(Bytes)))};
  }

  Bounds boundsOf(Value* V) {
    if (auto It = Known.find(V); It != Known.end()) return It->second;
    Bounds B = compute(V);
    Known[V] = B;
    return B;
  }

  Bounds compute(Value* V) {
    if (auto* C = dyn_cast<Constant>(V)) {
      const ConstantBounds B = constantBounds(C, DL, Total);
      return {B.Base, B.Top};
    }
    if (auto* A = dyn_cast<Argument>(V)) return argumentBounds(A);
    auto* I = dyn_cast<Instruction>(V);
    if (I == nullptr) return allMemory();
    switch (I->getOpcode()) {
      case Instruction::GetElementPtr:
      case Instruction::BitCast:
      case Instruction::AddrSpaceCast: return boundsOf(I->getOperand(0));
      case Instruction::IntToPtr: {
        // uintptr_t arithmetic on a pointer's address keeps the pointer's capability, as
        // in CHERI C (`(T*)(((uintptr_t)p + 15) & ~15)`); an integer from nowhere does not.
        if (Value* Origin = provenance(I->getOperand(0), 0)) return boundsOf(Origin);
        // An integer loaded from memory (a pointer the optimizer moved through an integer
        // slot: a union, a structure copied as integers): the slot's shadow says whether
        // a pointer with these bits was stored there.
        if (LoadInst* From = integerLoad(I->getOperand(0), 0)) return loadedIntegerBounds(From);
        ++Total.integer_casts;
        warnCast(*I);
        return untagged();
      }
      case Instruction::Alloca: {
        auto* A = cast<AllocaInst>(I);
        IRBuilder<> B(after(A));
        if (A->isStaticAlloca()) {
          const std::uint64_t Bytes = A->getAllocationSizeInBits(DL)->getFixedSize() / 8;
          if (MaybeAlign Align = representableAlignment(Bytes); Align && A->getAlign() < *Align) {
            A->setAlignment(*Align);
          }
          return objectBounds(B, A, Bytes);
        }
        Value* Base = B.CreatePtrToInt(A, I64);
        Value* Count = B.CreateZExtOrTrunc(A->getArraySize(), I64);
        Value* Bytes = B.CreateMul(Count, int64(DL.getTypeAllocSize(A->getAllocatedType())));
        return {Base, B.CreateAdd(Base, Bytes)};
      }
      case Instruction::PHI: {
        auto* Phi = cast<PHINode>(I);
        IRBuilder<> B(Phi);
        Bounds Placeholder{B.CreatePHI(I64, Phi->getNumIncomingValues(), "flexcap.base"),
                           B.CreatePHI(I64, Phi->getNumIncomingValues(), "flexcap.top")};
        Known[V] = Placeholder;  // (a loop's phi reaches itself)
        Phis.push_back({Phi, Placeholder});
        return Placeholder;
      }
      case Instruction::Select: {
        auto* S = cast<SelectInst>(I);
        const Bounds T = boundsOf(S->getTrueValue());
        const Bounds E = boundsOf(S->getFalseValue());
        IRBuilder<> B(after(S));
        return {B.CreateSelect(S->getCondition(), T.Base, E.Base), B.CreateSelect(S->getCondition(), T.Top, E.Top)};
      }
      case Instruction::Load: {
        auto* L = cast<LoadInst>(I);
        IRBuilder<> B(after(L));
        ++Total.pointer_loads;
        // A va_list's own pointers (its save areas), which va_start wrote: the argument
        // area, as CHERI's va_list capability bounds it (here: all of memory).
        if (auto* Field = dyn_cast<GEPOperator>(L->getPointerOperand());
            Field != nullptr && isVaList(Field->getPointerOperand()->stripPointerCasts()->getType())) {
          return allMemory();
        }
        // va_arg's pointer: the caller put its bounds in the variadic slots.
        if (fromVaList(L->getPointerOperand())) {
          Value* Meta = B.CreateCall(VariadicMeta, {B.CreatePtrToInt(L, I64)});
          return {B.CreateExtractValue(Meta, 0), B.CreateExtractValue(Meta, 1)};
        }
        // A slot no instrumented store wrote gives an untagged pointer, except:
        //  - read through a foreign pointer: the C library's own structures (its locale
        //    tables, a struct it returned), a hybrid caller's;
        //  - a variable of the C library's (stdout, optarg, environ).
        // Their pointers are foreign too.
        const Bounds Foreign = foreign(L->getType());
        Bounds Miss = untagged();
        if (auto* G = dyn_cast<GlobalVariable>(getUnderlyingObject(L->getPointerOperand()));
            G != nullptr && G->isDeclaration()) {
          Miss = Foreign;
        } else {
          Value* FromForeign = isForeign(B, boundsOf(L->getPointerOperand()));
          Miss = {B.CreateSelect(FromForeign, Foreign.Base, int64(0)), B.CreateSelect(FromForeign, Foreign.Top, int64(0))};
        }
        if (PurecapAblate == "shadow") return allMemory();
        Value* Meta = B.CreateCall(LoadMeta, {B.CreatePtrToInt(L->getPointerOperand(), I64), B.CreatePtrToInt(L, I64),
                                              Miss.Base, Miss.Top});
        return {B.CreateExtractValue(Meta, 0), B.CreateExtractValue(Meta, 1)};
      }
      case Instruction::Call: {
        auto* Call = cast<CallInst>(I);
        if (Call->isInlineAsm()) return allMemory();
        IRBuilder<> B(after(Call));
        return fromSlot(B, B.CreateConstInBoundsGEP1_32(Return->getValueType(), Return, 0), Call);
      }
      case Instruction::ExtractElement: {
        auto* EE = cast<ExtractElementInst>(I);
        if (auto* Index = dyn_cast<ConstantInt>(EE->getIndexOperand());
            Index != nullptr && DL.getTypeSizeInBits(EE->getType()) == 64) {
          return laneBounds(EE->getVectorOperand(), static_cast<unsigned>(Index->getZExtValue()), 0);
        }
        return allMemory();
      }
      default: return foreign(I->getType());  // extractvalue, cmpxchg's pointer, ...: as a hybrid pointer
    }
  }

  // A pointer's bounds from a slot (the arguments' or the return's): the slot's if it was
  // written for this value, else a foreign pointer's (an uninstrumented caller or callee).
  Bounds fromSlot(IRBuilder<>& B, Value* Slot, Value* Pointer) {
    if (PurecapAblate == "slots") return allMemory();
    Type* SlotTy = StructType::get(I64, I64, I64);
    Value* For = B.CreateLoad(I64, B.CreateStructGEP(SlotTy, Slot, 0));
    Value* Base = B.CreateLoad(I64, B.CreateStructGEP(SlotTy, Slot, 1));
    Value* Top = B.CreateLoad(I64, B.CreateStructGEP(SlotTy, Slot, 2));
    Value* Written = B.CreateICmpEQ(For, B.CreatePtrToInt(Pointer, I64));
    const Bounds Else = foreign(Pointer->getType());
    return {B.CreateSelect(Written, Base, Else.Base), B.CreateSelect(Written, Top, Else.Top)};
  }

  void toSlot(IRBuilder<>& B, Value* Slot, Value* Pointer, const Bounds& Bs) {
    if (PurecapAblate == "slots") return;
    Type* SlotTy = StructType::get(I64, I64, I64);
    B.CreateStore(B.CreatePtrToInt(Pointer, I64), B.CreateStructGEP(SlotTy, Slot, 0));
    B.CreateStore(Bs.Base, B.CreateStructGEP(SlotTy, Slot, 1));
    B.CreateStore(Bs.Top, B.CreateStructGEP(SlotTy, Slot, 2));
  }

  Value* argumentSlot(IRBuilder<>& B, unsigned Index) {
    return B.CreateConstInBoundsGEP2_32(Arguments->getValueType(), Arguments, 0, Index);
  }

  Bounds argumentBounds(Argument* A) {
    if (A->getArgNo() >= kArgumentSlots) return foreign(A->getType());
    IRBuilder<> B(EntryStart);
    return fromSlot(B, argumentSlot(B, A->getArgNo()), A);
  }

  // The bounds of lane `Lane` of a vector of 64-bit values: from the slot it was loaded
  // from, through shuffles and insertions; untagged otherwise.
  Bounds laneBounds(Value* V, unsigned Lane, unsigned Depth) {
    if (Depth > 8) return untagged();
    if (auto It = LaneCache.find({V, Lane}); It != LaneCache.end()) return It->second;
    if (auto* Phi = dyn_cast<PHINode>(V)) {  // a loop's vector of pointers
      IRBuilder<> B(Phi);
      const Bounds Lanes{B.CreatePHI(I64, Phi->getNumIncomingValues(), "flexcap.lane.base"),
                         B.CreatePHI(I64, Phi->getNumIncomingValues(), "flexcap.lane.top")};
      LaneCache[{V, Lane}] = Lanes;  // (the loop's phi reaches itself)
      for (unsigned K = 0; K < Phi->getNumIncomingValues(); ++K) {
        const Bounds In = laneBounds(Phi->getIncomingValue(K), Lane, Depth + 1);
        cast<PHINode>(Lanes.Base)->addIncoming(In.Base, Phi->getIncomingBlock(K));
        cast<PHINode>(Lanes.Top)->addIncoming(In.Top, Phi->getIncomingBlock(K));
      }
      return Lanes;
    }
    if (auto* S = dyn_cast<SelectInst>(V)) {
      const Bounds T = laneBounds(S->getTrueValue(), Lane, Depth + 1);
      const Bounds E = laneBounds(S->getFalseValue(), Lane, Depth + 1);
      IRBuilder<> B(after(S));
      Value* Cond = S->getCondition();
      if (Cond->getType()->isVectorTy()) Cond = B.CreateExtractElement(Cond, Lane);
      const Bounds Bs{B.CreateSelect(Cond, T.Base, E.Base), B.CreateSelect(Cond, T.Top, E.Top)};
      LaneCache[{V, Lane}] = Bs;
      return Bs;
    }
    if (auto* L = dyn_cast<LoadInst>(V)) {
      if (PurecapAblate == "shadow") return allMemory();
      auto Key = std::make_pair(static_cast<Value*>(L), Lane);
      IRBuilder<> B(after(L));
      Value* Element = B.CreateExtractElement(L, Lane);
      Value* Bits = Element->getType()->isPointerTy() ? B.CreatePtrToInt(Element, I64) : B.CreateBitCast(Element, I64);
      Value* Slot = B.CreateAdd(B.CreatePtrToInt(L->getPointerOperand(), I64), int64(8 * Lane));
      Value* Meta = B.CreateCall(LoadMeta, {Slot, Bits, int64(0), int64(0)});
      const Bounds Bs{B.CreateExtractValue(Meta, 0), B.CreateExtractValue(Meta, 1)};
      LaneCache[Key] = Bs;
      return Bs;
    }
    if (auto* SV = dyn_cast<ShuffleVectorInst>(V)) {
      const int From = SV->getMaskValue(Lane);
      if (From < 0) return untagged();
      const auto Width = static_cast<int>(cast<FixedVectorType>(SV->getOperand(0)->getType())->getNumElements());
      return From < Width ? laneBounds(SV->getOperand(0), static_cast<unsigned>(From), Depth + 1)
                          : laneBounds(SV->getOperand(1), static_cast<unsigned>(From - Width), Depth + 1);
    }
    if (auto* GEP = dyn_cast<GetElementPtrInst>(V)) {  // lanes of addresses into one object, or into each lane's
      Value* Base = GEP->getPointerOperand();
      return Base->getType()->isVectorTy() ? laneBounds(Base, Lane, Depth + 1) : boundsOf(Base);
    }
    if (auto* IE = dyn_cast<InsertElementInst>(V)) {
      if (auto* Index = dyn_cast<ConstantInt>(IE->getOperand(2))) {
        if (Index->getZExtValue() == Lane) {
          Value* Element = IE->getOperand(1);
          if (Element->getType()->isPointerTy()) return boundsOf(Element);
          if (Value* Origin = provenance(Element, 0)) return boundsOf(Origin);
          if (auto* From = dyn_cast<LoadInst>(Element); From != nullptr && From->getType()->isIntegerTy(64)) {
            return loadedIntegerBounds(From);
          }
          return untagged();
        }
        return laneBounds(IE->getOperand(0), Lane, Depth + 1);
      }
    }
    if (auto* C = dyn_cast<Constant>(V)) {
      if (Constant* Element = C->getAggregateElement(Lane); Element != nullptr && Element->getType()->isPointerTy()) {
        return boundsOf(Element);
      }
    }
    return untagged();
  }

  // The shadow of the slot a 64-bit integer was loaded from, as it was then: the bounds
  // of a pointer stored there with these bits, or untagged.
  Bounds loadedIntegerBounds(LoadInst* L) {
    if (PurecapAblate == "shadow") return allMemory();
    if (auto It = Integers.find(L); It != Integers.end()) return It->second;
    IRBuilder<> B(after(L));
    Value* Meta = B.CreateCall(LoadMeta, {B.CreatePtrToInt(L->getPointerOperand(), I64), L, int64(0), int64(0)});
    const Bounds Bs{B.CreateExtractValue(Meta, 0), B.CreateExtractValue(Meta, 1)};
    Integers[L] = Bs;
    return Bs;
  }

  // The 64-bit load an integer's value was computed from (as provenance() follows
  // arithmetic), or null.
  static LoadInst* integerLoad(Value* V, unsigned Depth) {
    if (Depth > 8) return nullptr;
    if (auto* L = dyn_cast<LoadInst>(V)) return L->getType()->isIntegerTy(64) ? L : nullptr;
    auto* O = dyn_cast<Operator>(V);
    if (O == nullptr) return nullptr;
    switch (O->getOpcode()) {
      case Instruction::ZExt:
      case Instruction::SExt:
      case Instruction::Trunc:
      case Instruction::Add:
      case Instruction::Sub:
      case Instruction::And:
      case Instruction::Or:
      case Instruction::Xor: return integerLoad(O->getOperand(0), Depth + 1);
      default: return nullptr;
    }
  }

  // Whether P points into a va_list's save areas: what va_arg reads (x86-64's va_list
  // holds the addresses of the register save area and of the stack's overflow area).
  static bool fromVaList(Value* P) {
    SmallVector<Value*, 8> Work{P};
    SmallPtrSet<Value*, 8> Seen;
    bool Found = false;
    while (!Work.empty()) {
      Value* V = Work.pop_back_val()->stripPointerCasts();
      if (!Seen.insert(V).second) continue;
      if (auto* G = dyn_cast<GEPOperator>(V)) {
        Work.push_back(G->getPointerOperand());
      } else if (auto* Phi = dyn_cast<PHINode>(V)) {
        for (Value* In : Phi->incoming_values()) Work.push_back(In);
      } else if (auto* S = dyn_cast<SelectInst>(V)) {
        Work.push_back(S->getTrueValue());
        Work.push_back(S->getFalseValue());
      } else if (auto* L = dyn_cast<LoadInst>(V)) {
        Value* Area = L->getPointerOperand()->stripInBoundsOffsets();
        if (auto* Field = dyn_cast<GEPOperator>(L->getPointerOperand())) Area = Field->getPointerOperand();
        if (!isVaList(Area->stripPointerCasts()->getType())) return false;
        Found = true;
      } else {
        return false;
      }
    }
    return Found;
  }

  static bool isVaList(Type* T) {
    auto* P = dyn_cast<PointerType>(T);
    if (P == nullptr || P->isOpaque()) return false;
    Type* E = P->getNonOpaquePointerElementType();
    if (auto* A = dyn_cast<ArrayType>(E)) E = A->getElementType();
    auto* S = dyn_cast<StructType>(E);
    return S != nullptr && S->hasName() && S->getName().startswith("struct.__va_list_tag");
  }

  void warnCast(Instruction& I) {
    std::string Where = F.getName().str();
    if (const DebugLoc& Loc = I.getDebugLoc()) {
      Where = Loc->getFilename().str() + ":" + std::to_string(Loc.getLine()) + " (in " + Where + ")";
    }
    errs() << "flexcap purecap: warning: " << Where
           << ": pointer made from an integer: it is untagged, as on CHERI purecap, and using it faults\n";
  }

  // --- what happens at each instruction --------------------------------------------------

  // Whether [P, P + Size) provably lies in the object P points into: a constant offset
  // into a local or a global of known size (exactly what its bounds allow).
  bool provablyInside(Value* P, std::uint64_t Size) {
    std::int64_t Offset = 0;
    Value* Base = GetPointerBaseWithConstantOffset(P, Offset, DL);
    std::uint64_t Bytes = 0;
    if (auto* A = dyn_cast<AllocaInst>(Base); A != nullptr && A->isStaticAlloca()) {
      Bytes = A->getAllocationSizeInBits(DL)->getFixedSize() / 8;
    } else if (auto* G = dyn_cast<GlobalVariable>(Base); G != nullptr && !G->isThreadLocal() &&
                                                         G->getValueType()->isSized() && !G->isInterposable()) {
      Bytes = DL.getTypeAllocSize(G->getValueType());
    } else {
      return false;
    }
    return Offset >= 0 && Size <= Bytes && static_cast<std::uint64_t>(Offset) <= Bytes - Size;
  }

  void planCheck(Instruction* Before, Value* P, std::uint64_t Size, Value* Dynamic, AccessKind Kind) {
    if (P->getType()->getPointerAddressSpace() != 0) return;  // %fs-relative: thread-locals
    if (auto* C = dyn_cast_or_null<ConstantInt>(Dynamic)) {   // a memcpy of a constant length
      Size = C->getZExtValue();
      Dynamic = nullptr;
    }
    if (Dynamic == nullptr && (Size == 0 || provablyInside(P, Size))) {
      if (Size != 0) ++Total.exempted;
      return;
    }
    if (auto* G = dyn_cast<GlobalVariable>(getUnderlyingObject(P)); G != nullptr && G->isThreadLocal()) return;
    const Bounds Bs = boundsOf(P);
    if (Dynamic == nullptr && Kind != kExecute && PurecapDropDominated && provedBefore(Before, P, Size, Bs)) {
      ++Total.dominated;
      return;
    }
    ++Total.checked;
    if (PurecapAblate == "checks") return;
    // Accesses at constant offsets from one pointer in one block (a structure's fields)
    // share one check of their hull; each is checked on its own only where the hull fails,
    // so a fault is still raised by exactly the access that faults, where it is.
    int Group = -1;
    if (Dynamic == nullptr) {
      std::int64_t Offset = 0;
      Value* Root = GetPointerBaseWithConstantOffset(P, Offset, DL);
      if (const Bounds RootBounds = boundsOf(Root); RootBounds.Base == Bs.Base && RootBounds.Top == Bs.Top) {
        auto [It, New] = GroupOf.try_emplace({Before->getParent(), Root}, static_cast<int>(Groups.size()));
        if (New) Groups.push_back({Root, Offset, Offset + static_cast<std::int64_t>(Size)});
        HullGroup& G = Groups[static_cast<std::size_t>(It->second)];
        G.Lo = std::min(G.Lo, Offset);
        G.Hi = std::max(G.Hi, Offset + static_cast<std::int64_t>(Size));
        ++G.Members;
        Group = It->second;
      }
    }
    Actions.push_back([=, this] {
      IRBuilder<> B(Before);
      if (PurecapCount) {
        GlobalVariable* Counter = global("flexcap_purecap_checks", I64, true);
        B.CreateStore(B.CreateAdd(B.CreateLoad(I64, Counter), int64(1)), Counter);
      }
      Instruction* At = Before;
      if (Group >= 0 && Groups[static_cast<std::size_t>(Group)].Members > 1) {
        HullGroup& G = Groups[static_cast<std::size_t>(Group)];
        if (G.Inside == nullptr) {  // at the group's first access
          Value* Address = B.CreateAdd(B.CreatePtrToInt(G.Root, I64), int64(static_cast<std::uint64_t>(G.Lo)));
          G.Inside = B.CreateNot(outside(B, Address, int64(static_cast<std::uint64_t>(G.Hi - G.Lo)), Bs));
        }
        At = SplitBlockAndInsertIfThen(B.CreateNot(G.Inside), Before, /*Unreachable=*/false, Unlikely);
        B.SetInsertPoint(At);
      }
      Value* Address = B.CreatePtrToInt(P, I64);
      Value* Bytes = Dynamic != nullptr ? B.CreateZExtOrTrunc(Dynamic, I64) : static_cast<Value*>(int64(Size));
      Value* Bad = outside(B, Address, Bytes, Bs);
      if (Dynamic != nullptr) Bad = B.CreateAnd(Bad, B.CreateICmpNE(Bytes, int64(0)));
      Instruction* Then = SplitBlockAndInsertIfThen(Bad, At, /*Unreachable=*/true, Unlikely);
      IRBuilder<>(Then).CreateCall(Fault, {Address, Bytes, ConstantInt::get(I32, Kind), Bs.Base, Bs.Top});
    });
  }

  // Whether checks that always run before `Before` (they dominate it), of pointers at
  // constant offsets from the same root with the same bounds, already proved
  // [P, P + Size) inside them: the hull of two ranges that passed lies inside bounds that
  // are one contiguous range, and SSA values (the root, its bounds) are the same wherever
  // their definitions dominate. Such a check could never fail, so dropping it changes no
  // fault. Records this access's range for later ones otherwise.
  bool provedBefore(Instruction* Before, Value* P, std::uint64_t Size, const Bounds& Bs) {
    std::int64_t Offset = 0;
    Value* Root = GetPointerBaseWithConstantOffset(P, Offset, DL);
    const std::int64_t Lo = Offset, Hi = Offset + static_cast<std::int64_t>(Size);
    auto& Earlier = Proved[Root];
    std::int64_t Low = INT64_MAX, High = INT64_MIN;
    for (const ProvedRange& R : Earlier) {
      if (R.Base != Bs.Base || R.Top != Bs.Top || R.At == Before || !DT.dominates(R.At, Before)) continue;
      Low = std::min(Low, R.Lo);
      High = std::max(High, R.Hi);
    }
    if (Low <= Lo && Hi <= High) return true;
    Earlier.push_back({Before, Lo, Hi, Bs.Base, Bs.Top});
    return false;
  }

  // Whether [Address, Address + Bytes) leaves [Base, Top), safe against wrap-around.
  Value* outside(IRBuilder<>& B, Value* Address, Value* Bytes, const Bounds& Bs) {
    Value* Length = B.CreateSub(Bs.Top, Bs.Base);
    Value* Offset = B.CreateSub(Address, Bs.Base);
    return B.CreateOr(B.CreateICmpUGT(Bytes, Length), B.CreateICmpUGT(Offset, B.CreateSub(Length, Bytes)));
  }

  std::uint64_t sizeOf(Type* T) const { return DL.getTypeStoreSize(T).getFixedSize(); }

  void plan(Instruction& I) {
    if (auto* L = dyn_cast<LoadInst>(&I)) {
      planCheck(L, L->getPointerOperand(), sizeOf(L->getType()), nullptr, kLoad);
    } else if (auto* S = dyn_cast<StoreInst>(&I)) {
      planCheck(S, S->getPointerOperand(), sizeOf(S->getValueOperand()->getType()), nullptr, kStore);
      planStoredValue(S);
    } else if (auto* RMW = dyn_cast<AtomicRMWInst>(&I)) {
      planCheck(RMW, RMW->getPointerOperand(), sizeOf(RMW->getValOperand()->getType()), nullptr, kLoadStore);
    } else if (auto* CX = dyn_cast<AtomicCmpXchgInst>(&I)) {
      planCheck(CX, CX->getPointerOperand(), sizeOf(CX->getNewValOperand()->getType()), nullptr, kLoadStore);
    } else if (auto* MT = dyn_cast<MemTransferInst>(&I)) {
      planCheck(MT, MT->getRawSource(), 0, MT->getLength(), kLoad);
      planCheck(MT, MT->getRawDest(), 0, MT->getLength(), kStore);
      // The pointers it copies keep their tags (aligned slots, as on CHERI): the runtime
      // copies their shadow where a whole slot can have been copied.
      if (auto* Length = dyn_cast<ConstantInt>(MT->getLength()); Length != nullptr && Length->getZExtValue() < 8) return;
      if (PurecapAblate == "shadow") return;
      Actions.push_back([=, this] {
        IRBuilder<> B(MT);
        Value* To = B.CreatePtrToInt(MT->getRawDest(), I64);
        Value* From = B.CreatePtrToInt(MT->getRawSource(), I64);
        Value* Bytes = B.CreateZExtOrTrunc(MT->getLength(), I64);
        Value* Slots = B.CreateAnd(B.CreateICmpEQ(B.CreateAnd(B.CreateXor(To, From), 7), int64(0)),
                                   B.CreateICmpUGE(Bytes, int64(8)));
        Instruction* Then = SplitBlockAndInsertIfThen(Slots, MT->getNextNode(), /*Unreachable=*/false);
        IRBuilder<>(Then).CreateCall(CopyMeta, {To, From, Bytes});
      });
    } else if (auto* MS = dyn_cast<MemSetInst>(&I)) {
      planCheck(MS, MS->getRawDest(), 0, MS->getLength(), kStore);
    } else if (auto* R = dyn_cast<ReturnInst>(&I)) {
      Value* V = R->getReturnValue();
      if (V != nullptr && V->getType()->isPointerTy()) {
        const Bounds Bs = escapedBounds(V, R);
        Actions.push_back([=, this] {
          IRBuilder<> B(R);
          toSlot(B, B.CreateConstInBoundsGEP1_32(Return->getValueType(), Return, 0), V, Bs);
        });
      }
    } else if (auto* II = dyn_cast<IntrinsicInst>(&I)) {
      planMaskedAccess(II);
    } else if (auto* Call = dyn_cast<CallInst>(&I)) {
      planCall(Call);
    }
  }

  // The vectorizer's masked and gathering accesses: each active lane is checked on its own
  // (against the pointer's bounds, or its lane's for a gather or scatter), as the lanes of
  // a predicated access are on CHERI.
  void planMaskedAccess(IntrinsicInst* II) {
    Value* Pointers = nullptr;  // a vector of pointers (gather, scatter), or
    Value* Base = nullptr;      // one pointer to consecutive lanes (masked load, store)
    Value* Mask = nullptr;
    Type* Data = nullptr;
    AccessKind Kind = kLoad;
    switch (II->getIntrinsicID()) {
      case Intrinsic::masked_load: Base = II->getArgOperand(0), Mask = II->getArgOperand(2), Data = II->getType(); break;
      case Intrinsic::masked_store:
        Base = II->getArgOperand(1), Mask = II->getArgOperand(3), Data = II->getArgOperand(0)->getType(), Kind = kStore;
        break;
      case Intrinsic::masked_gather:
        Pointers = II->getArgOperand(0), Mask = II->getArgOperand(2), Data = II->getType();
        break;
      case Intrinsic::masked_scatter:
        Pointers = II->getArgOperand(1), Mask = II->getArgOperand(3), Data = II->getArgOperand(0)->getType();
        Kind = kStore;
        break;
      case Intrinsic::masked_expandload:
      case Intrinsic::masked_compressstore:
        report_fatal_error(Twine("flexcap purecap pass: ") + F.getName() +
                           " uses an expanding load or compressing store, which the pass cannot check yet");
      default: return;
    }
    auto* VT = cast<FixedVectorType>(Data);
    const std::uint64_t Element = sizeOf(VT->getElementType());
    for (unsigned Lane = 0; Lane < VT->getNumElements(); ++Lane) {
      const Bounds Bs = Pointers != nullptr ? laneBounds(Pointers, Lane, 0) : boundsOf(Base);
      ++Total.checked;
      Actions.push_back([=, this] {
        IRBuilder<> B(II);
        Value* Address = Pointers != nullptr
                             ? B.CreatePtrToInt(B.CreateExtractElement(Pointers, Lane), I64)
                             : B.CreateAdd(B.CreatePtrToInt(Base, I64), int64(Lane * Element));
        Value* Bad = B.CreateAnd(B.CreateExtractElement(Mask, Lane), outside(B, Address, int64(Element), Bs));
        Instruction* Then = SplitBlockAndInsertIfThen(Bad, II, /*Unreachable=*/true, Unlikely);
        IRBuilder<>(Then).CreateCall(Fault, {Address, int64(Element), ConstantInt::get(I32, Kind), Bs.Base, Bs.Top});
      });
    }
  }

  // The bounds a pointer leaves with (stored, passed, returned): its own, or with
  // sub-object bounds on, those of the structure member it was made to point to, where
  // that member lies inside them (`&s->name`: the member, `&s->name[3]`: still the whole
  // member, as CHERI LLVM's subobject-safe mode narrows). An access made in place
  // (`s->name[i]`) keeps the structure's bounds, as no capability is made for it.
  Bounds escapedBounds(Value* V, Instruction* At) {
    const Bounds Own = boundsOf(V);
    if (!SubObjectBounds) return Own;
    auto* GEP = dyn_cast<GEPOperator>(V->stripPointerCasts());
    if (GEP == nullptr || !GEP->hasAllConstantIndices()) return Own;
    std::uint64_t Offset = 0, FieldStart = 0, FieldSize = 0;
    bool InField = false;
    for (auto It = gep_type_begin(GEP); It != gep_type_end(GEP); ++It) {
      const std::uint64_t Index = cast<ConstantInt>(It.getOperand())->getZExtValue();
      if (StructType* ST = It.getStructTypeOrNull()) {
        Offset += DL.getStructLayout(ST)->getElementOffset(static_cast<unsigned>(Index));
        FieldStart = Offset;
        FieldSize = DL.getTypeAllocSize(ST->getElementType(static_cast<unsigned>(Index)));
        InField = true;
      } else {
        Offset += Index * DL.getTypeAllocSize(It.getIndexedType());
      }
    }
    if (!InField || FieldSize == 0) return Own;
    ++Total.subobject_bounds;
    IRBuilder<> B(At);
    Value* Base = B.CreateAdd(B.CreatePtrToInt(GEP->getPointerOperand(), I64), int64(FieldStart));
    Value* Top = B.CreateAdd(Base, int64(flexcap::cap::representable_length(FieldSize)));
    Value* Inside = B.CreateAnd(B.CreateICmpUGE(Base, Own.Base), B.CreateICmpULE(Top, Own.Top));
    return {B.CreateSelect(Inside, Base, Own.Base), B.CreateSelect(Inside, Top, Own.Top)};
  }

  // A pointer stored to memory: its bounds go to the shadow of the slot. An 8-byte integer
  // copied from one slot to another (what the optimizer makes of a pointer's memcpy) takes
  // the source slot's shadow along.
  void planStoredValue(StoreInst* S) {
    if (PurecapAblate == "shadow") return;
    Value* V = S->getValueOperand();
    if (V->getType()->isPointerTy()) {
      ++Total.pointer_stores;
      const Bounds Bs = escapedBounds(V, S);
      Actions.push_back([=, this] {
        IRBuilder<> B(S->getNextNode());
        B.CreateCall(StoreMeta, {B.CreatePtrToInt(S->getPointerOperand(), I64), B.CreatePtrToInt(V, I64), Bs.Base,
                                 B.CreateZExtOrTrunc(Bs.Top, I64)});
      });
      return;
    }
    // A pointer's bits stored as an integer (a union the optimizer typed as i64): its
    // capability goes along, as a uintptr_t's does in CHERI C.
    if (V->getType()->isIntegerTy(64)) {
      if (Value* Origin = provenance(V, 0)) {
        ++Total.pointer_stores;
        const Bounds Bs = boundsOf(Origin);
        Actions.push_back([=, this] {
          IRBuilder<> B(S->getNextNode());
          B.CreateCall(StoreMeta, {B.CreatePtrToInt(S->getPointerOperand(), I64), V, Bs.Base, Bs.Top});
        });
        return;
      }
    }
    // A vector of 64-bit lanes (pointers, or integers: a swap of two adjacent pointers
    // becomes one 16-byte load, a shuffle and a 16-byte store): each lane's bounds go to
    // its slot.
    if (auto* VT = dyn_cast<FixedVectorType>(V->getType());
        VT != nullptr && DL.getTypeSizeInBits(VT->getElementType()) == 64) {
      SmallVector<Bounds, 4> Lanes;
      for (unsigned Lane = 0; Lane < VT->getNumElements(); ++Lane) Lanes.push_back(laneBounds(V, Lane, 0));
      Actions.push_back([=, this] {
        IRBuilder<> B(S->getNextNode());
        Value* Address = B.CreatePtrToInt(S->getPointerOperand(), I64);
        for (unsigned Lane = 0; Lane < Lanes.size(); ++Lane) {
          Value* Element = B.CreateExtractElement(V, Lane);
          Value* Bits = Element->getType()->isPointerTy() ? B.CreatePtrToInt(Element, I64) : B.CreateBitCast(Element, I64);
          B.CreateCall(StoreMeta, {B.CreateAdd(Address, int64(8 * Lane)), Bits, Lanes[Lane].Base, Lanes[Lane].Top});
        }
      });
      return;
    }
    // An 8-byte integer copied from one slot to another (what the optimizer makes of a
    // pointer's memcpy, or of a swap): the shadow as it was when the value was loaded
    // goes along, as a capability register would carry its tag.
    auto* L = dyn_cast<LoadInst>(V);
    if (L != nullptr && V->getType()->isIntegerTy(64)) {
      const Bounds Bs = loadedIntegerBounds(L);
      Actions.push_back([=, this] {
        IRBuilder<> B(S->getNextNode());
        B.CreateCall(StoreMeta, {B.CreatePtrToInt(S->getPointerOperand(), I64), V, Bs.Base, Bs.Top});
      });
    }
  }

  void planCall(CallInst* Call) {
    if (isa<IntrinsicInst>(Call) || Call->isInlineAsm()) return;
    ++Total.calls;
    if (Call->getCalledFunction() == nullptr) planIndirectCall(Call);
    if (Call->getFunctionType()->isVarArg()) {
      // Pointers among the variadic arguments: their bounds in the variadic slots, which
      // the callee's va_arg finds by value.
      SmallVector<std::pair<Value*, Bounds>, 4> Pointers;
      for (unsigned K = Call->getFunctionType()->getNumParams(); K < Call->arg_size(); ++K) {
        Value* Arg = Call->getArgOperand(K);
        if (Arg->getType()->isPointerTy() && Pointers.size() < kArgumentSlots) {
          Pointers.push_back({Arg, escapedBounds(Arg, Call)});
        }
      }
      Actions.push_back([=, this] {
        IRBuilder<> B(Call);
        for (unsigned J = 0; J < Pointers.size(); ++J) {
          toSlot(B, B.CreateConstInBoundsGEP2_32(Variadic->getValueType(), Variadic, 0, J), Pointers[J].first,
                 Pointers[J].second);
        }
        B.CreateStore(int64(Pointers.size()), VariadicCount);
      });
    }
    for (unsigned K = 0; K < Call->arg_size() && K < kArgumentSlots; ++K) {
      Value* Arg = Call->getArgOperand(K);
      if (!Arg->getType()->isPointerTy()) continue;
      const Bounds Bs = escapedBounds(Arg, Call);
      Actions.push_back([=, this] {
        IRBuilder<> B(Call);
        toSlot(B, argumentSlot(B, K), Arg, Bs);
      });
    }
    for (unsigned K = 0; K < Call->arg_size(); ++K) {
      if (Type* T = Call->getParamByValType(K)) planCheck(Call, Call->getArgOperand(K), sizeOf(T), nullptr, kLoad);
    }
  }

  // A call through a function pointer: it must be a code capability. Here a pointer to
  // code carries the bounds of all memory (as Morello's PCC-derived capabilities cover
  // the program's code); an untagged one (made from an integer) faults on its tag, one
  // with an object's bounds (a data pointer) on the Execute permission it lacks.
  void planIndirectCall(CallInst* Call) {
    Value* Target = Call->getCalledOperand();
    const Bounds Bs = boundsOf(Target);
    ++Total.indirect_calls;
    Actions.push_back([=, this] {
      IRBuilder<> B(Call);
      Value* Code = B.CreateAnd(B.CreateICmpEQ(Bs.Base, int64(0)), B.CreateICmpEQ(Bs.Top, int64(~std::uint64_t{0})));
      Instruction* Then = SplitBlockAndInsertIfThen(B.CreateNot(Code), Call, /*Unreachable=*/true, Unlikely);
      IRBuilder<> T(Then);
      T.CreateCall(Fault, {T.CreatePtrToInt(Target, I64), int64(1), ConstantInt::get(I32, kExecute), Bs.Base, Bs.Top});
    });
  }

  Function& F;
  Module& M;
  const DataLayout& DL;
  LLVMContext& Ctx;
  Counts& Total;
  Type* I64;
  Type* I32;
  GlobalVariable* Arguments;
  GlobalVariable* Return;
  FunctionCallee LoadMeta, VariadicMeta, StoreMeta, CopyMeta, Fault;  // LoadMeta, StoreMeta: in line (shadowAccess)
  GlobalVariable* Variadic;
  GlobalVariable* VariadicCount;
  MDNode* Unlikely;
  Instruction* EntryStart = nullptr;  // where code at the function's start goes (after Ddc)
  Bounds Ddc;                         // the running compartment's DDC, read at entry
  DenseMap<Value*, Bounds> Known;
  DenseMap<LoadInst*, Bounds> Integers;                  // loadedIntegerBounds
  std::map<std::pair<Value*, unsigned>, Bounds> LaneCache;  // laneBounds
  SmallVector<std::pair<PHINode*, Bounds>, 16> Phis;
  struct HullGroup {
    Value* Root;
    std::int64_t Lo, Hi;  // the hull of the members' [offset, offset + size) from Root
    unsigned Members = 0;
    Value* Inside = nullptr;  // the hull's check, made at the first member
  };
  SmallVector<HullGroup, 16> Groups;
  std::map<std::pair<BasicBlock*, Value*>, int> GroupOf;
  struct ProvedRange {
    Instruction* At;
    std::int64_t Lo, Hi;  // [offset, offset + size) from the root, checked before At
    Value* Base;
    Value* Top;
  };
  DenseMap<Value*, SmallVector<ProvedRange, 4>> Proved;  // provedBefore(), by root pointer
  DominatorTree DT;
  SmallVector<std::function<void()>, 64> Actions;
};

// Pointers in globals' initial values (a table of strings, a structure of callbacks) are
// capabilities that no instrumented store wrote: on CHERI the loader derives them. A
// constructor that runs first writes their shadow entries.
void collectPointers(Constant* C, std::uint64_t Offset, const DataLayout& DL,
                     SmallVectorImpl<std::pair<std::uint64_t, Constant*>>& Out) {
  Type* T = C->getType();
  if (T->isPointerTy()) {
    if (!C->isNullValue() && !isa<UndefValue>(C)) Out.push_back({Offset, C});
    return;
  }
  if (isa<ConstantAggregateZero>(C) || isa<ConstantDataSequential>(C) || isa<UndefValue>(C)) return;
  if (auto* S = dyn_cast<ConstantStruct>(C)) {
    const StructLayout* Layout = DL.getStructLayout(S->getType());
    for (unsigned K = 0; K < S->getNumOperands(); ++K) {
      collectPointers(S->getOperand(K), Offset + Layout->getElementOffset(K), DL, Out);
    }
  } else if (auto* A = dyn_cast<ConstantArray>(C)) {
    const std::uint64_t Element = DL.getTypeAllocSize(A->getType()->getElementType());
    for (unsigned K = 0; K < A->getNumOperands(); ++K) collectPointers(A->getOperand(K), Offset + K * Element, DL, Out);
  }
}

std::uint64_t registerGlobalPointers(Module& M, Counts& Total) {
  const DataLayout& DL = M.getDataLayout();
  LLVMContext& Ctx = M.getContext();
  Type* I64 = Type::getInt64Ty(Ctx);
  SmallVector<std::pair<GlobalVariable*, SmallVector<std::pair<std::uint64_t, Constant*>, 8>>, 16> Tables;
  for (GlobalVariable& G : M.globals()) {
    if (G.isDeclaration() || !G.hasInitializer() || G.isThreadLocal() || G.getName().startswith("llvm.")) continue;
    SmallVector<std::pair<std::uint64_t, Constant*>, 8> Pointers;
    collectPointers(G.getInitializer(), 0, DL, Pointers);
    if (!Pointers.empty()) Tables.push_back({&G, std::move(Pointers)});
  }
  if (Tables.empty()) return 0;
  FunctionCallee StoreMeta =
      M.getOrInsertFunction("flexcap_purecap_store_meta", FunctionType::get(Type::getVoidTy(Ctx), {I64, I64, I64, I64}, false));
  Function* Constructor = Function::Create(FunctionType::get(Type::getVoidTy(Ctx), false), GlobalValue::InternalLinkage,
                                           "flexcap.purecap.global_capabilities", M);
  IRBuilder<> B(BasicBlock::Create(Ctx, "", Constructor));
  std::uint64_t Count = 0;
  for (auto& [G, Pointers] : Tables) {
    Constant* Base = ConstantExpr::getPtrToInt(G, I64);
    for (auto& [Offset, Pointer] : Pointers) {
      const ConstantBounds Bs = constantBounds(Pointer, DL, Total);
      B.CreateCall(StoreMeta, {ConstantExpr::getAdd(Base, ConstantInt::get(I64, Offset)),
                               ConstantExpr::getPtrToInt(Pointer, I64), Bs.Base, Bs.Top});
      ++Count;
    }
  }
  B.CreateRetVoid();
  appendToGlobalCtors(M, Constructor, 0);  // before any other constructor reads them
  return Count;
}

std::uint64_t redirect(Module& M) {
  std::uint64_t Redirected = 0;
  for (const char* Name : kWrapped) {
    Function* F = M.getFunction(Name);
    if (F == nullptr || !F->isDeclaration()) continue;
    FunctionCallee Wrapper = M.getOrInsertFunction(std::string("flexcap_purecap_") + Name, F->getFunctionType());
    F->replaceAllUsesWith(ConstantExpr::getBitCast(cast<Constant>(Wrapper.getCallee()), F->getType()));
    ++Redirected;
  }
  return Redirected;
}

struct PurecapPass : PassInfoMixin<PurecapPass> {
  PreservedAnalyses run(Module& M, ModuleAnalysisManager&) {
    if (M.getGlobalVariable("flexcap_purecap_return") != nullptr &&
        !M.getGlobalVariable("flexcap_purecap_return")->isDeclaration()) {
      report_fatal_error(Twine("flexcap purecap pass: ") + M.getSourceFileName() +
                         " defines the purecap runtime's slots; the runtime must not be instrumented");
    }
    Counts C;
    C.wrapped = redirect(M);
    C.global_pointers = registerGlobalPointers(M, C);
    SmallVector<Function*, 64> Functions;
    for (Function& F : M) {
      if (!F.isDeclaration() && !F.getName().startswith("flexcap_") && !F.getName().startswith("flexcap.purecap.shadow")) {
        Functions.push_back(&F);
      }
    }
    for (Function* F : Functions) {
      Instrumenter(*F, C).run();
      for (Attribute::AttrKind Kind :
           {Attribute::ReadNone, Attribute::ReadOnly, Attribute::WriteOnly, Attribute::ArgMemOnly,
            Attribute::InaccessibleMemOnly, Attribute::InaccessibleMemOrArgMemOnly, Attribute::NoUnwind}) {
        F->removeFnAttr(Kind);
      }
    }
    if (!PurecapReport.empty()) {
      std::ofstream Out(PurecapReport, std::ios::app);
      Out << "{\"file\": \"" << M.getSourceFileName() << "\", \"abi\": \"purecap\", \"checked\": " << C.checked
          << ", \"exempted\": " << C.exempted << ", \"dominated\": " << C.dominated << ", \"pointer_loads\": " << C.pointer_loads
          << ", \"pointer_stores\": " << C.pointer_stores << ", \"calls\": " << C.calls
          << ", \"indirect_calls_checked\": " << C.indirect_calls << ", \"subobject_bounds\": " << C.subobject_bounds
          << ", \"casts_from_integer\": " << C.integer_casts << ", \"global_pointers\": " << C.global_pointers << ", \"library_functions_wrapped\": " << C.wrapped
          << "}\n";
    }
    return PreservedAnalyses::none();
  }
  static bool isRequired() { return true; }
};

}  // namespace

namespace flexcap_pass {
bool purecapRequested() { return Purecap; }
// The pass, then its in-line shadow paths inlined and the code it added tidied (common
// bounds computed once, blocks merged): the checks stay, as every transformation after
// instrumentation keeps what the instrumented code does.
void addPurecapPass(ModulePassManager& MPM) {
  MPM.addPass(PurecapPass());
  MPM.addPass(AlwaysInlinerPass(/*InsertLifetimeIntrinsics=*/false));
  FunctionPassManager FPM;
  FPM.addPass(EarlyCSEPass(/*UseMemorySSA=*/false));
  FPM.addPass(ADCEPass());  // shadow lookups whose bounds nothing uses
  FPM.addPass(SimplifyCFGPass());
  FPM.addPass(InstCombinePass());
  FPM.addPass(SimplifyCFGPass());
  MPM.addPass(createModuleToFunctionPassAdaptor(std::move(FPM)));
}
}  // namespace flexcap_pass
