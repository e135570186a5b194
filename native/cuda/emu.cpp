/* emu.cpp - the fiber scheduler and runtime-API shims behind emu.h (libjprune_cudaemu.so only). */
#include "emu.h"

#include <deque>
#include <mutex>
#include <string>
#include <vector>
#include <cstdio>
#include <ucontext.h>

/* The fiber switch. On x86-64 a 14-instruction switch of the callee-saved registers and the stack
 * pointer (glibc's swapcontext also saves the signal mask: a system call per switch, which made
 * the emulation spend most of its time in the kernel); elsewhere ucontext. */
#if defined(__x86_64__)
#define JP_FAST_SWITCH 1
extern "C" void jp_emu_switch(void **save_sp, void *load_sp);
asm(R"(
    .text
    .globl jp_emu_switch
    .hidden jp_emu_switch
    .type jp_emu_switch,@function
jp_emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size jp_emu_switch,.-jp_emu_switch
)");
#endif

namespace jpemu {
thread_local uint3 threadIdx_, blockIdx_;
thread_local dim3 blockDim_, gridDim_;

namespace {
enum State { READY, AT_BLOCK_BARRIER, AT_WARP_BARRIER, DONE };
constexpr size_t STACK_BYTES = 128 * 1024;

struct AsyncCopy {
    void *dst;
    const void *src;
    unsigned bytes;
};

struct Fiber {
#ifdef JP_FAST_SWITCH
    void *sp;
#else
    ucontext_t uc;
#endif
    State state;
    uint3 tid;
    unsigned linear;
    std::vector<AsyncCopy> open;                 // cp.async issued since the last commit
    std::deque<std::vector<AsyncCopy>> groups;   // committed, not yet waited for
};

struct Block {
#ifdef JP_FAST_SWITCH
    void *main_sp;
#else
    ucontext_t main;
#endif
    std::vector<Fiber> fibers;
    std::vector<char *> stacks;
    unsigned live = 0, block_arrived = 0;
    std::vector<unsigned> warp_live, warp_arrived;
    std::vector<uint64_t> slots;  // [warp][32]
    int cur = -1;
    const std::function<void()> *body = nullptr;
    bool copies_left = false;  // a thread exited with cp.async copies never waited for
};

std::mutex g_launch;        // one launch at a time: __shared__ statics belong to the running block
Block *g_block = nullptr;   // the running block (under g_launch)
thread_local std::string g_error;
thread_local bool g_launch_failed = false;

void release(State waiting, int warp) {
    Block &b = *g_block;
    for (Fiber &f : b.fibers)
        if (f.state == waiting && (warp < 0 || (int)(f.linear / 32) == warp)) f.state = READY;
}

/* the last live thread to arrive releases the others; returns true when the caller may go on */
void yield_to_scheduler(Fiber &me) {
#ifdef JP_FAST_SWITCH
    jp_emu_switch(&me.sp, g_block->main_sp);
#else
    swapcontext(&me.uc, &g_block->main);
#endif
}

void resume(Block &b, Fiber &f) {
#ifdef JP_FAST_SWITCH
    jp_emu_switch(&b.main_sp, f.sp);
#else
    swapcontext(&b.main, &f.uc);
#endif
}

void fiber_entry() {
    Block &b = *g_block;
    (*b.body)();
    Fiber &me = b.fibers[b.cur];
    me.state = DONE;
    if (!me.open.empty() || !me.groups.empty()) b.copies_left = true;
    unsigned w = me.linear / 32;
    b.slots[w * 32 + me.linear % 32] = 0;
    b.live--;
    b.warp_live[w]--;
    if (b.block_arrived > 0 && b.block_arrived == b.live) { b.block_arrived = 0; release(AT_BLOCK_BARRIER, -1); }
    if (b.warp_arrived[w] > 0 && b.warp_arrived[w] == b.warp_live[w]) { b.warp_arrived[w] = 0; release(AT_WARP_BARRIER, (int)w); }
#ifdef JP_FAST_SWITCH
    jp_emu_switch(&me.sp, b.main_sp);  // never resumed: the next block re-initialises the fiber
    __builtin_unreachable();
#endif
    /* returning resumes uc_link: the scheduler */
}
#ifdef JP_FAST_SWITCH
/* a fresh stack that jp_emu_switch "returns" into fiber_entry from: six zeroed callee-saved
 * registers, then fiber_entry's address, then a null return address (fiber_entry never returns),
 * so fiber_entry starts with the stack aligned as after a call */
void init_fiber(Fiber &f, char *stack, Block &) {
    uintptr_t top = ((uintptr_t)(stack + STACK_BYTES)) & ~(uintptr_t)15;
    void **sp = reinterpret_cast<void **>(top);
    *--sp = nullptr;
    *--sp = reinterpret_cast<void *>(&fiber_entry);
    for (int i = 0; i < 6; i++) *--sp = nullptr;
    f.sp = sp;
}
#else
/* getcontext returns twice in principle (like setjmp); kept out of launch() so its locals stay
 * plain. The saved point is never resumed: makecontext replaces the entry. */
__attribute__((noinline)) void init_fiber(Fiber &f, char *stack, Block &b) {
    getcontext(&f.uc);
    f.uc.uc_stack.ss_sp = stack;
    f.uc.uc_stack.ss_size = STACK_BYTES;
    f.uc.uc_link = &b.main;
    makecontext(&f.uc, fiber_entry, 0);
}
#endif
}  // namespace

const char *last_error() { return g_error.c_str(); }

void syncthreads() {
    Block &b = *g_block;
    Fiber &me = b.fibers[b.cur];
    if (++b.block_arrived == b.live) { b.block_arrived = 0; release(AT_BLOCK_BARRIER, -1); return; }
    me.state = AT_BLOCK_BARRIER;
    yield_to_scheduler(me);
}

void syncwarp() {
    Block &b = *g_block;
    Fiber &me = b.fibers[b.cur];
    unsigned w = me.linear / 32;
    if (++b.warp_arrived[w] == b.warp_live[w]) { b.warp_arrived[w] = 0; release(AT_WARP_BARRIER, (int)w); return; }
    me.state = AT_WARP_BARRIER;
    yield_to_scheduler(me);
}

unsigned lane_id() { return g_block->fibers[g_block->cur].linear % 32; }

void async_copy(void *dst, const void *src, unsigned bytes) { g_block->fibers[g_block->cur].open.push_back({dst, src, bytes}); }

void async_commit() {
    Fiber &me = g_block->fibers[g_block->cur];
    me.groups.push_back(std::move(me.open));
    me.open.clear();
}

void async_wait(unsigned pending) {
    Fiber &me = g_block->fibers[g_block->cur];
    while (me.groups.size() > pending) {
        for (const AsyncCopy &c : me.groups.front()) std::memcpy(c.dst, c.src, c.bytes);
        me.groups.pop_front();
    }
}

const uint64_t *warp_exchange(uint64_t v) {
    Block &b = *g_block;
    unsigned linear = b.fibers[b.cur].linear, w = linear / 32;
    syncwarp();  // every lane has read the previous exchange
    b.slots[w * 32 + linear % 32] = v;
    syncwarp();  // every lane has deposited
    return &b.slots[w * 32];
}

int launch(dim3 grid, dim3 block, const std::function<void()> &body) {
    const unsigned long long nt = (unsigned long long)block.x * block.y * block.z;
    if (nt == 0 || nt > 1024 || block.z > 64 || grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.y > 65535 || grid.z > 65535) {
        char msg[160];
        snprintf(msg, sizeof msg, "invalid launch configuration grid (%u,%u,%u) block (%u,%u,%u)", grid.x, grid.y, grid.z, block.x,
                 block.y, block.z);
        g_error = msg;
        return -1;
    }
    std::lock_guard<std::mutex> lock(g_launch);
    static Block b;  // stacks are kept between launches
    g_block = &b;
    const unsigned n = (unsigned)nt, warps = (n + 31) / 32;
    while (b.stacks.size() < n) b.stacks.push_back(static_cast<char *>(std::malloc(STACK_BYTES)));
    b.fibers.resize(n);
    b.body = &body;
    b.warp_live.assign(warps, 0);
    b.warp_arrived.assign(warps, 0);
    b.slots.assign((size_t)warps * 32, 0);
    blockDim_ = block;
    gridDim_ = grid;
    int status = 0;
    for (unsigned bz = 0; bz < grid.z && status == 0; bz++)
        for (unsigned by = 0; by < grid.y && status == 0; by++)
            for (unsigned bx = 0; bx < grid.x && status == 0; bx++) {
                blockIdx_ = uint3(bx, by, bz);
                b.live = n;
                b.block_arrived = 0;
                for (unsigned w = 0; w < warps; w++) { b.warp_live[w] = (w + 1) * 32 <= n ? 32 : n - w * 32; b.warp_arrived[w] = 0; }
                std::fill(b.slots.begin(), b.slots.end(), 0);
                b.copies_left = false;
                for (unsigned i = 0; i < n; i++) {
                    Fiber &f = b.fibers[i];
                    f.open.clear();
                    f.groups.clear();
                    f.state = READY;
                    f.linear = i;
                    f.tid = uint3(i % block.x, (i / block.x) % block.y, i / (block.x * block.y));
                    init_fiber(f, b.stacks[i], b);
                }
                while (b.live > 0) {
                    bool ran = false;
                    for (unsigned i = 0; i < n; i++) {
                        if (b.fibers[i].state != READY) continue;
                        b.cur = (int)i;
                        threadIdx_ = b.fibers[i].tid;
                        resume(b, b.fibers[i]);
                        ran = true;
                    }
                    if (!ran) {
                        char msg[200];
                        snprintf(msg, sizeof msg, "deadlock in block (%u,%u,%u): %u live threads wait at barriers that cannot complete "
                                 "(a barrier not reached by every thread of the block or warp)", bx, by, bz, b.live);
                        g_error = msg;
                        status = -1;
                        break;
                    }
                }
                if (status == 0 && b.copies_left) {
                    char msg[160];
                    snprintf(msg, sizeof msg, "block (%u,%u,%u): a thread exited with cp.async copies it never waited for "
                             "(a cp.async.wait_group missing)", bx, by, bz);
                    g_error = msg;
                    status = -1;
                }
            }
    b.cur = -1;
    g_block = nullptr;
    return status;
}
}  // namespace jpemu

void jpemu_set_launch_error() { jpemu::g_launch_failed = true; }

/* ---- runtime API shims ---- */
namespace {
std::mutex g_mem;
size_t g_in_use = 0;
const size_t EMU_TOTAL = (size_t)16 << 30;
}

cudaError_t cudaGetLastError() {
    if (jpemu::g_launch_failed) { jpemu::g_launch_failed = false; return cudaErrorLaunchFailure; }
    return cudaSuccess;
}
const char *cudaGetErrorString(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorMemoryAllocation: return "out of memory (emulated device)";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorLaunchFailure: return jpemu::last_error();
    default: return "unknown error";
    }
}
cudaError_t cudaGetDeviceCount(int *n) { *n = 1; return cudaSuccess; }
cudaError_t cudaSetDevice(int d) { return d == 0 ? cudaSuccess : cudaErrorInvalidValue; }
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int d) {
    if (d != 0) return cudaErrorInvalidValue;
    std::memset(p, 0, sizeof *p);
    std::snprintf(p->name, sizeof p->name, "cuda-emu (CPU emulation, fibers)");
    p->multiProcessorCount = 4;
    p->major = 0;
    p->minor = 0;
    p->totalGlobalMem = EMU_TOTAL;
    p->sharedMemPerBlock = 48 * 1024;
    return cudaSuccess;
}
cudaError_t cudaMalloc(void **p, size_t bytes) {
    size_t sz = ((bytes ? bytes : 1) + 255) & ~(size_t)255;
    *p = std::aligned_alloc(256, sz + 256);
    if (!*p) return cudaErrorMemoryAllocation;
    /* the size lives in a 256-byte header so cudaFree can account for it */
    *static_cast<size_t *>(*p) = sz;
    *p = static_cast<char *>(*p) + 256;
    std::lock_guard<std::mutex> lock(g_mem);
    g_in_use += sz;
    return cudaSuccess;
}
cudaError_t cudaFree(void *p) {
    if (!p) return cudaSuccess;
    char *base = static_cast<char *>(p) - 256;
    {
        std::lock_guard<std::mutex> lock(g_mem);
        g_in_use -= *reinterpret_cast<size_t *>(base);
    }
    std::free(base);
    return cudaSuccess;
}
cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes) {
    std::lock_guard<std::mutex> lock(g_mem);
    *total_bytes = EMU_TOTAL;
    *free_bytes = EMU_TOTAL - g_in_use;
    return cudaSuccess;
}
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned) { *s = nullptr; return cudaSuccess; }
cudaError_t cudaStreamDestroy(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind, cudaStream_t) {
    if (bytes) std::memmove(dst, src, bytes);
    return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void *dst, int value, size_t bytes, cudaStream_t) {
    if (bytes) std::memset(dst, value, bytes);
    return cudaSuccess;
}
/* every launch and copy has finished when its call returns: events have nothing to wait for */
cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned) { *e = nullptr; return cudaSuccess; }
cudaError_t cudaEventDestroy(cudaEvent_t) { return cudaSuccess; }
cudaError_t cudaEventRecord(cudaEvent_t, cudaStream_t) { return cudaSuccess; }
cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaSuccess; }
cudaError_t cudaStreamWaitEvent(cudaStream_t, cudaEvent_t, unsigned) { return cudaSuccess; }
cudaError_t cudaHostAlloc(void **p, size_t bytes, unsigned) {
    *p = std::malloc(bytes ? bytes : 1);
    return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t cudaFreeHost(void *p) { std::free(p); return cudaSuccess; }
cudaError_t cudaDriverGetVersion(int *v) { *v = 0; return cudaSuccess; }
cudaError_t cudaRuntimeGetVersion(int *v) { *v = 0; return cudaSuccess; }
