/* How many threads a parallel region of the CPU backend gets: the cores this process may run on, the
 * context's setting, a per-OS-thread override for request threads, and an adaptive limit that follows
 * the cores the process actually gets when other processes or threads hold some of them.
 *
 * Version log (bench: scripts/bench.sh cpu --only contention, YOLOv5n beside `yes > /dev/null` on one
 * of two cores; ratios contended / alone at 256 px):
 *  v1 OpenMP teams of all cores, libgomp's default active waiting: training 0.27x, batch-16
 *     inference 0.33x, batch-1 latency p50 2.3x / p99 10x. A team member that shares its core with
 *     the competitor spins through the gaps between regions, so the scheduler charges it as much as
 *     the competitor; it is off the core for whole time slices (ms) and every fork and barrier waits.
 *  v1b OMP_WAIT_POLICY=passive (measured, not kept): contended 0.70x / 0.58x / 0.77x, but alone
 *     training fell 20% and batch-1 latency rose 46%: waking a sleeping worker costs tens of us per
 *     region on this VM, and a training step forks about two thousand regions.
 *  v2 adaptive limit: teams keep spinning, so the uncontended path is unchanged, and every region's
 *     workers compare their start with the fork (JP_TEAM_ARRIVE). Two starts more than JP_LATE_NS late
 *     within 25 ms mean a core the team does not get: the limit drops by one (at least 1), and the
 *     regions that follow run on fewer threads, never waiting for that core. Probing back up blindly
 *     every 50-400 ms cost a few ms per failed probe: 0.38x / 0.42x / 1.37x at 320 px.
 *  v3 (this file) the rise is gated by the load: every 20 ms below the full team one caller reads
 *     /proc/loadavg and raises the limit only when fewer threads are runnable than CPUs are online (or
 *     blindly after 0.4-3.2 s, for machines where that count is not ours); for 20 ms after a rise one
 *     late start drops it again. 256 / 320 / 640 px: training 0.51x / 0.67x / 0.46x, batch-16
 *     inference 0.61x / 0.66x / 0.50x, batch-1 p50 0.95x / 0.94x / 1.48x of alone, and alone within
 *     noise of fixed teams (bench/results/cpu-contention-*.md).
 *
 * Knobs: jp_ctx_set_threads (the context's team size), jp_set_call_threads (this OS thread's calls,
 * e.g. 1 on request threads that each run their own forward pass), JPRUNE_ADAPTIVE_THREADS=0 (keeps
 * teams at the full size whatever happens), taskset / cpusets (cores are counted in the affinity mask),
 * and libgomp's own OMP_WAIT_POLICY / GOMP_SPINCOUNT / OMP_PROC_BIND, which we leave to the operator. */
#define _GNU_SOURCE
#include "cpu.h"
#include <fcntl.h>
#include <omp.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define JP_PROBE_BASE_NS 20000000LL    /* below the full team, the load is looked at every 20 ms */
#define JP_PROBATION_NS 20000000LL     /* for 20 ms after a rise, one late start drops the limit again */
#define JP_LATE_WINDOW_NS 25000000LL   /* otherwise two late starts this close (25 ms) drop it */
#define JP_BLIND_BASE_NS 400000000LL   /* a rise without a free core in sight after 0.4 s below ... */
#define JP_BLIND_MAX_NS 3200000000LL   /* ... doubling after each failure up to 3.2 s */
#define JP_QUIET_NS 10000000000LL      /* 10 s without a drop: blind rises go back to the base */

static int g_cores;
static volatile int g_adaptive = 1;
static _Atomic int g_limit;                   /* threads a region may use (1..g_cores) */
static _Atomic int64_t g_changed_ns;          /* last drop or rise of the limit */
static _Atomic int64_t g_raised_ns;           /* last rise (a drop soon after it was a failed probe) */
static _Atomic int64_t g_probe_ns;            /* when the next caller may look at the load */
static _Atomic int64_t g_blind_ns = JP_BLIND_BASE_NS;
static int g_online;                          /* CPUs online (what /proc/loadavg's runnable count is out of) */
static _Atomic int64_t g_prev_late_ns = -JP_QUIET_NS; /* the last late start */
static _Atomic int64_t g_late, g_drops, g_raises;
static int g_trace;                           /* JPRUNE_TEAM_TRACE=1: every late start on stderr */
static _Thread_local int t_call_threads;      /* 0: the context's setting */

__attribute__((constructor)) static void team_init(void) {
    cpu_set_t set;
    long n = 0;
    if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
    if (n <= 0) n = sysconf(_SC_NPROCESSORS_ONLN);
    /* a container's CPU quota, rounded up, as the JVM counts it: cgroup v2 cpu.max "QUOTA PERIOD" (or
     * "max"), else cgroup v1 cpu.cfs_quota_us / cpu.cfs_period_us (-1: none) */
    long quota = -1, period = 0;
    FILE *f = fopen("/sys/fs/cgroup/cpu.max", "re");
    if (f) {
        char q[32] = {0};
        if (fscanf(f, "%31s %ld", q, &period) == 2 && strcmp(q, "max") != 0) quota = strtol(q, NULL, 10);
        fclose(f);
    } else if ((f = fopen("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "re"))) {
        if (fscanf(f, "%ld", &quota) != 1) quota = -1;
        fclose(f);
        if ((f = fopen("/sys/fs/cgroup/cpu/cpu.cfs_period_us", "re"))) {
            if (fscanf(f, "%ld", &period) != 1) period = 0;
            fclose(f);
        }
    }
    if (quota > 0 && period > 0) {
        long c = (quota + period - 1) / period;
        if (c > 0 && c < n) n = c;
    }
    g_cores = n > 0 ? (int)n : 1;
    long on = sysconf(_SC_NPROCESSORS_ONLN);
    g_online = on > 0 ? (int)on : g_cores;
    atomic_store(&g_limit, g_cores);
    const char *a = getenv("JPRUNE_ADAPTIVE_THREADS");
    if (a && !strcmp(a, "0")) g_adaptive = 0;
    const char *t = getenv("JPRUNE_TEAM_TRACE");
    g_trace = t && strcmp(t, "0") != 0;
}

int jp_cpu_cores(void) { return g_cores; }

int64_t jp_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* 1 when /proc/loadavg counts fewer runnable threads (the caller included) than online CPUs: a core
 * is free for one more worker; 0 when not; -1 when it cannot be read (not Linux, no /proc). */
static int free_cpu_seen(void) {
    char buf[128];
    int fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    const char *p = buf;
    for (int f = 0; f < 3 && p; f++) { /* skip the three load averages */
        p = strchr(p, ' ');
        if (p) p++;
    }
    if (!p) return -1;
    long running = strtol(p, NULL, 10);
    return running > 0 && running < g_online ? 1 : 0;
}

int jp_team_want(const struct jp_ctx_s *ctx) {
    int want = t_call_threads > 0 ? t_call_threads : ctx->threads;
    return want < 1 ? 1 : want;
}

int jp_team(const struct jp_ctx_s *ctx) {
    const int want = jp_team_want(ctx);
    if (want == 1) return 1;
    int lim = atomic_load_explicit(&g_limit, memory_order_relaxed);
    if (lim >= want) return want;
    if (!g_adaptive) return lim; /* pinned (jp_cpu_pin_limit) */
    int64_t now = jp_now_ns(), at = atomic_load_explicit(&g_probe_ns, memory_order_relaxed);
    /* one caller per probe time looks; the others go on with the limit */
    if (now < at || !atomic_compare_exchange_strong(&g_probe_ns, &at, now + JP_PROBE_BASE_NS)) return lim;
    /* rise when the load shows a free core, or blindly after a long spell (no /proc, or a loadavg
     * that counts a bigger machine than our cpuset) */
    if (free_cpu_seen() == 0 && now - atomic_load(&g_changed_ns) < atomic_load(&g_blind_ns)) return lim;
    if (atomic_compare_exchange_strong(&g_limit, &lim, lim + 1)) {
        lim++;
        atomic_store(&g_changed_ns, now);
        atomic_store(&g_raised_ns, now);
        atomic_fetch_add(&g_raises, 1);
    }
    return lim < want ? lim : want;
}

void jp_team_late(int64_t delay_ns) {
    atomic_fetch_add(&g_late, 1);
    int64_t now = jp_now_ns(), prev = atomic_exchange(&g_prev_late_ns, now);
    if (g_trace) fprintf(stderr, "jprune team: worker %d started %lld us late (limit %d)\n", omp_get_thread_num(), (long long)(delay_ns / 1000), atomic_load(&g_limit));
    if (!g_adaptive) return;
    /* one late start is noise (a JIT or GC thread of the JVM, a hypervisor hiccup) unless the limit has
     * just risen (a probe on probation); two close together are a core the team does not get */
    int64_t raised = atomic_load(&g_raised_ns), blind = atomic_load(&g_blind_ns);
    int probation = now - raised < JP_PROBATION_NS;
    if (!probation && now - prev > JP_LATE_WINDOW_NS) return;
    int lim = atomic_load(&g_limit);
    if (lim <= 1) return;
    if (atomic_compare_exchange_strong(&g_limit, &lim, lim - 1)) {
        /* a failed blind rise waits twice as long for the next one (up to JP_BLIND_MAX_NS) */
        if (probation) atomic_store(&g_blind_ns, blind * 2 < JP_BLIND_MAX_NS ? blind * 2 : JP_BLIND_MAX_NS);
        else if (now - atomic_load(&g_changed_ns) > JP_QUIET_NS) atomic_store(&g_blind_ns, JP_BLIND_BASE_NS);
        atomic_store(&g_changed_ns, now);
        atomic_store(&g_probe_ns, now + JP_PROBE_BASE_NS);
        atomic_fetch_add(&g_drops, 1);
    }
}

JP_API jp_status jp_set_call_threads(int32_t threads) {
    JP_CHECK(threads >= 0, "jp_set_call_threads", "threads must be >= 0 (got %d)", threads);
    t_call_threads = threads;
    return JP_OK;
}

JP_API jp_status jp_cpu_set_adaptive(int32_t on) {
    JP_CHECK(on == 0 || on == 1, "jp_cpu_set_adaptive", "on must be 0 or 1 (got %d)", on);
    g_adaptive = on;
    atomic_store(&g_limit, g_cores);
    atomic_store(&g_blind_ns, JP_BLIND_BASE_NS);
    return JP_OK;
}

JP_API jp_status jp_cpu_pin_limit(int32_t limit) {
    JP_CHECK(limit >= 0 && limit <= g_cores, "jp_cpu_pin_limit", "limit must be 0..%d (the cores; 0 unpins), got %d", g_cores, limit);
    g_adaptive = limit == 0;
    atomic_store(&g_limit, limit == 0 ? g_cores : limit);
    atomic_store(&g_blind_ns, JP_BLIND_BASE_NS);
    return JP_OK;
}

JP_API jp_status jp_cpu_team_stats(int64_t *out_host, int32_t n) {
    JP_CHECK(out_host, "jp_cpu_team_stats", "out_host is NULL");
    JP_CHECK(n >= 0 && n <= 6, "jp_cpu_team_stats", "n must be 0..6 (got %d)", n);
    const int64_t v[6] = {g_cores, atomic_load(&g_limit), atomic_load(&g_late), atomic_load(&g_drops), atomic_load(&g_raises), g_adaptive};
    for (int i = 0; i < n; i++) out_host[i] = v[i];
    return JP_OK;
}
