; Masked and gathered vector accesses, which C cannot spell: the loop vectorizer makes
; them where the target has masked moves (AVX2, AVX-512). Written as IR so that the pass
; sees them on any x86-64; the back end scalarizes them where the CPU lacks those moves.
; Lanes 0 up to `active` (exclusive) are enabled: each is an access of one i32.

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-f80:128-n8:16:32:64-S128"
target triple = "x86_64-pc-linux-gnu"

define internal <4 x i1> @lanes(i32 %active) alwaysinline {
  %one = insertelement <4 x i32> undef, i32 %active, i32 0
  %all = shufflevector <4 x i32> %one, <4 x i32> undef, <4 x i32> zeroinitializer
  %mask = icmp ult <4 x i32> <i32 0, i32 1, i32 2, i32 3>, %all
  ret <4 x i1> %mask
}

define i32 @masked_load_4(i32* %p, i32 %active) {
  %mask = call <4 x i1> @lanes(i32 %active)
  %vp = bitcast i32* %p to <4 x i32>*
  %v = call <4 x i32> @llvm.masked.load.v4i32.p0v4i32(<4 x i32>* %vp, i32 4, <4 x i1> %mask, <4 x i32> zeroinitializer)
  %sum = call i32 @llvm.vector.reduce.add.v4i32(<4 x i32> %v)
  ret i32 %sum
}

; Stores 1, 2, 3, 4 into the enabled lanes.
define void @masked_store_4(i32* %p, i32 %active) {
  %mask = call <4 x i1> @lanes(i32 %active)
  %vp = bitcast i32* %p to <4 x i32>*
  call void @llvm.masked.store.v4i32.p0v4i32(<4 x i32> <i32 1, i32 2, i32 3, i32 4>, <4 x i32>* %vp, i32 4, <4 x i1> %mask)
  ret void
}

; One i32 from each of four pointers.
define i32 @gather_4(i32* %a, i32* %b, i32* %c, i32* %d, i32 %active) {
  %mask = call <4 x i1> @lanes(i32 %active)
  %p0 = insertelement <4 x i32*> undef, i32* %a, i32 0
  %p1 = insertelement <4 x i32*> %p0, i32* %b, i32 1
  %p2 = insertelement <4 x i32*> %p1, i32* %c, i32 2
  %p3 = insertelement <4 x i32*> %p2, i32* %d, i32 3
  %v = call <4 x i32> @llvm.masked.gather.v4i32.v4p0i32(<4 x i32*> %p3, i32 4, <4 x i1> %mask, <4 x i32> zeroinitializer)
  %sum = call i32 @llvm.vector.reduce.add.v4i32(<4 x i32> %v)
  ret i32 %sum
}

declare <4 x i32> @llvm.masked.load.v4i32.p0v4i32(<4 x i32>*, i32, <4 x i1>, <4 x i32>)
declare void @llvm.masked.store.v4i32.p0v4i32(<4 x i32>, <4 x i32>*, i32, <4 x i1>)
declare <4 x i32> @llvm.masked.gather.v4i32.v4p0i32(<4 x i32*>, i32, <4 x i1>, <4 x i32>)
declare i32 @llvm.vector.reduce.add.v4i32(<4 x i32>)
