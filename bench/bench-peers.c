/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench-peers: closerd beside what an operator runs today for IRQ and NUMA
 * placement, on this machine, in one run, on the same load: the fixture
 * tree of bench-scan (fixture.h: 10,000 dom0 threads, 2,000 event-channel
 * IRQs; CPU columns as this machine has CPUs, so that irqbalance accepts it).
 *
 * - irqbalance --oneshot: the CPU of one pass (user + system of the child,
 *   from wait4), median of 3 (each pass sleeps its 10 s interval once). It cannot be pointed at a tree, so it runs in
 *   a private mount namespace where /proc/interrupts and /proc/irq are the
 *   fixture's: it reads 2,000 IRQs and writes its affinities into the
 *   fixture, never into this host's IRQs. Needs root and irqbalance
 *   (scripts/install-deps --bench); skipped, with the reason, otherwise.
 * - numad: the CPU per scan interval (its /proc/PID/schedstat, ns), with
 *   -i 1:1 for 5 s, -H 0 (it leaves the host's THP tunable alone), then
 *   stopped with -i 0 as its manual says. numad reads the real /proc and
 *   /sys (no tree): on a single-node machine it scans the nodes and has no
 *   process to move; the figure is that scan, said as such.
 * - closerd's tick: the manager as closerd runs it, with the Linux adapter
 *   on the same fixture tree and the modelled hypervisor (simhost: 448
 *   pCPUs in 8 nodes, 500 domains, the fixture's): CPU per tick by phase,
 *   as `closerctl status` shows it. Dry run: the fixture's thread ids are
 *   not this host's threads to pin (the act phase is measured on the
 *   modelled host by bench-daemon).
 * - reaction: closerd's new domain -> placement (event-driven tick), p50 and
 *   p99 over 100 domains; irqbalance and numad react on their documented
 *   intervals (irqbalance(1): 10 s; numad(8): 5 to 15 s).
 *
 * Target: closerd's tick CPU <= one irqbalance pass, while it also places
 * threads, containers and memory and bills. Exits 3 when missed, 0 when met
 * or when irqbalance could not run (said loudly). Not a test.
 */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "basic/rlimit.h"
#include "daemon/log.h"
#include "daemon/manager.h"
#include "fixture.h"
#include "linux/linux.h"
#include "simhost/simhost.h"
#include "target.h"

#define N_DOMAINS 500
#define IRQBALANCE_RUNS 3
#define TICKS 20
#define INTROS 100

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return (x > y) - (x < y);
}

static double mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

static uint64_t thread_cpu_ns(void) {
        struct timespec ts;
        if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
                return 0;
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* prog's path from $PATH (no shell anywhere: tests/hardening), or false. */
static bool find_program(const char *prog, char *path, size_t size) {
        const char *dirs = getenv("PATH");
        if (!dirs || !*dirs)
                dirs = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        while (*dirs) {
                size_t n = strcspn(dirs, ":");
                if (n > 0 && (size_t) snprintf(path, size, "%.*s/%s", (int) n, dirs, prog) < size &&
                    access(path, X_OK) == 0)
                        return true;
                dirs += n + (dirs[n] == ':');
        }
        return false;
}

static char irqbalance_path[256], numad_path[256];

/* Run argv (argv[0] a path) with its output thrown away; its exit status,
 * or -1. */
static int run(char *const argv[]) {
        pid_t pid = fork();
        if (pid < 0)
                return -1;
        if (pid == 0) {
                int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
                if (fd >= 0) {
                        dup2(fd, 1);
                        dup2(fd, 2);
                }
                execv(argv[0], argv);
                _exit(127);
        }
        int status;
        if (waitpid(pid, &status, 0) < 0)
                return -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ---- irqbalance ---- */

/* One `irqbalance --oneshot` over the fixture; its CPU in ms, or -1 with
 * why. */
static double irqbalance_pass(char *why, size_t size) {
        char log[128];
        snprintf(log, sizeof(log), "%s/irqbalance.log", base);
        pid_t pid = fork();
        if (pid < 0) {
                snprintf(why, size, "fork: %s", strerror(errno));
                return -1;
        }
        if (pid == 0) {
                char src[128];
                int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (fd >= 0) {
                        dup2(fd, 1);
                        dup2(fd, 2);
                }
                if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
                        fprintf(stderr, "private mount namespace: %s\n", strerror(errno));
                        _exit(125);
                }
                snprintf(src, sizeof(src), "%s/proc/interrupts", base);
                if (mount(src, "/proc/interrupts", NULL, MS_BIND, NULL) < 0) {
                        fprintf(stderr, "bind %s: %s\n", src, strerror(errno));
                        _exit(125);
                }
                snprintf(src, sizeof(src), "%s/proc/irq", base);
                if (mount(src, "/proc/irq", NULL, MS_BIND, NULL) < 0) {
                        fprintf(stderr, "bind %s: %s\n", src, strerror(errno));
                        _exit(125);
                }
                char *argv[] = {irqbalance_path, "--oneshot", "--foreground", NULL};
                execv(argv[0], argv);
                fprintf(stderr, "exec irqbalance: %s\n", strerror(errno));
                _exit(127);
        }
        int status;
        struct rusage ru;
        if (wait4(pid, &status, 0, &ru) < 0) {
                snprintf(why, size, "wait4: %s", strerror(errno));
                return -1;
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                /* its last words */
                char text[512] = "";
                FILE *f = fopen(log, "re");
                if (f) {
                        size_t n = fread(text, 1, sizeof(text) - 1, f);
                        text[n] = '\0';
                        fclose(f);
                        for (char *c = text; *c; c++)
                                if (*c == '\n')
                                        *c = ' ';
                }
                snprintf(why, size, "irqbalance exited with status %d: %.300s", WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                         text);
                return -1;
        }
        return (double) ru.ru_utime.tv_sec * 1e3 + (double) ru.ru_utime.tv_usec / 1e3 +
               (double) ru.ru_stime.tv_sec * 1e3 + (double) ru.ru_stime.tv_usec / 1e3;
}

/* How many of the fixture's IRQs irqbalance gave an affinity other than
 * the fixture's all-CPUs mask: proof that it read and placed them. */
static unsigned irqbalance_moved(int cpus) {
        unsigned moved = 0;
        for (int i = 0; i < N_IRQS; i++) {
                char path[160], mask[64] = "";
                snprintf(path, sizeof(path), "%s/proc/irq/%d/smp_affinity", base, 100 + i);
                FILE *f = fopen(path, "re");
                if (!f)
                        continue;
                if (!fgets(mask, sizeof(mask), f))
                        mask[0] = '\0';
                fclose(f);
                unsigned long m = strtoul(mask, NULL, 16);
                if (cpus <= 32 && m != (1ul << cpus) - 1)
                        moved++;
        }
        return moved;
}

/* ---- numad ---- */

static long read_pidfile(const char *path) {
        FILE *f = fopen(path, "re");
        long pid = -1;
        if (f) {
                if (fscanf(f, "%ld", &pid) != 1)
                        pid = -1;
                fclose(f);
        }
        return pid;
}

static double schedstat_ms(long pid) {
        char path[64];
        unsigned long long ns = 0;
        snprintf(path, sizeof(path), "/proc/%ld/schedstat", pid);
        FILE *f = fopen(path, "re");
        if (!f)
                return -1;
        if (fscanf(f, "%llu", &ns) != 1)
                ns = 0;
        fclose(f);
        return (double) ns / 1e6;
}

/* numad's CPU per scan, ms, or -1 with why. */
static double numad_scan(unsigned *scans, char *why, size_t size) {
        const char *pidfile = "/var/run/numad.pid";
        if (read_pidfile(pidfile) > 0 && kill((pid_t) read_pidfile(pidfile), 0) == 0) {
                snprintf(why, size, "a numad is already running here (%s): not touched", pidfile);
                return -1;
        }
        if (run((char *[]) {numad_path, "-H", "0", "-i", "1:1", NULL}) != 0) {
                snprintf(why, size, "numad -i 1:1 refused to start");
                return -1;
        }
        long pid = -1;
        for (int i = 0; i < 50 && pid <= 0; i++) {
                usleep(100000);
                pid = read_pidfile(pidfile);
        }
        if (pid <= 0) {
                snprintf(why, size, "numad started but wrote no %s", pidfile);
                return -1;
        }
        /* its first scans set up; measure the next five */
        sleep(2);
        double c0 = schedstat_ms(pid), t0 = mono_ms();
        sleep(5);
        double c1 = schedstat_ms(pid), t1 = mono_ms();
        int stopped = run((char *[]) {numad_path, "-i", "0", NULL});
        for (int i = 0; i < 50 && kill((pid_t) pid, 0) == 0; i++)
                usleep(100000);
        if (c0 < 0 || c1 < 0) {
                snprintf(why, size, "numad (pid %ld) exited while measured: see /var/log/numad.log", pid);
                return -1;
        }
        if (stopped != 0 || kill((pid_t) pid, 0) == 0)
                fprintf(stderr, "bench-peers: numad -i 0 did not stop numad (pid %ld): stop it by hand\n", pid);
        *scans = (unsigned) ((t1 - t0) / 1000.0 + 0.5);
        return *scans ? (c1 - c0) / *scans : -1;
}

/* ---- closerd ---- */

static int add_domain(closer_simhost *sim, int domid) {
        int pcpu = (domid * 7) % 440 + 2;
        char name[32];
        snprintf(name, sizeof(name), "vm%d", domid);
        return closer_simhost_add_domain(sim, domid, name, 1u << 20, pcpu / 56, 2, (int[]) {pcpu, pcpu + 1},
                                         (double) (domid * 37 % 20000), 1);
}

typedef struct closerd_figures {
        double tick_cpu_ms, phase_ms[_CLOSER_PHASE_MAX];
        double react_p50, react_p99, react_cpu_p50;
        unsigned threads, irqs;
} closerd_figures;

static int closerd_ticks(closerd_figures *fig) {
        closer_simhost *sim = closer_simhost_new(8, 56, 64, 4096);
        closer_hypervisor *hv;
        closer_hostos *os;
        closer_manager *m;
        closer_config cfg;
        closer_error err = {{0}};
        uint64_t now = 1000000000ull;

        closer_config_defaults(&cfg);
        if (!sim || closer_simhost_hypervisor(sim, &hv) < 0) {
                fprintf(stderr, "bench-peers: simhost: out of memory\n");
                return -1;
        }
        if (closer_linux_hostos_new(base, NULL, &os, &err) < 0 ||
            closer_manager_new(&cfg, hv, os, true, NULL, &m, &err) < 0) {
                fprintf(stderr, "bench-peers: %s\n", err.msg);
                return -1;
        }
        m->cpu_ns = thread_cpu_ns;
        for (int i = 1; i <= N_DOMAINS; i++)
                if (add_domain(sim, i) < 0) {
                        fprintf(stderr, "bench-peers: cannot add domain %d\n", i);
                        return -1;
                }
        for (int i = 0; i < 3; i++) {   /* settle: the first ticks open the thread files */
                closer_simhost_advance(sim, 1000000000ull);
                now += 1000000000ull;
                if (closer_manager_tick(m, now, &err) < 0) {
                        fprintf(stderr, "bench-peers: closerd tick: %s\n", err.msg);
                        return -1;
                }
        }
        uint64_t p0[_CLOSER_PHASE_MAX];
        memcpy(p0, m->stats.phase_cpu_ns, sizeof(p0));
        double cpu[TICKS];
        for (int i = 0; i < TICKS; i++) {
                closer_simhost_advance(sim, 1000000000ull);
                now += 1000000000ull;
                uint64_t c0 = thread_cpu_ns();
                if (closer_manager_tick(m, now, &err) < 0) {
                        fprintf(stderr, "bench-peers: closerd tick: %s\n", err.msg);
                        return -1;
                }
                cpu[i] = (double) (thread_cpu_ns() - c0) / 1e6;
        }
        qsort(cpu, TICKS, sizeof(double), cmp_double);
        fig->tick_cpu_ms = cpu[TICKS / 2];
        for (int p = 0; p < _CLOSER_PHASE_MAX; p++)
                fig->phase_ms[p] = (double) (m->stats.phase_cpu_ns[p] - p0[p]) / 1e6 / TICKS;
        fig->threads = m->snap ? m->snap->n_threads : 0;
        fig->irqs = m->snap ? m->snap->n_irqs : 0;

        double lat[INTROS], lat_cpu[INTROS];
        for (int i = 0; i < INTROS; i++) {
                double t0 = mono_ms();
                uint64_t c0 = thread_cpu_ns();
                add_domain(sim, N_DOMAINS + 1 + i);     /* the domain appears ... */
                now += 1000000ull;
                closer_manager_tick(m, now, &err);      /* ... the event-driven tick places it */
                lat[i] = mono_ms() - t0;
                lat_cpu[i] = (double) (thread_cpu_ns() - c0) / 1e6;
        }
        qsort(lat, INTROS, sizeof(double), cmp_double);
        qsort(lat_cpu, INTROS, sizeof(double), cmp_double);
        fig->react_p50 = lat[INTROS / 2];
        fig->react_p99 = lat[INTROS * 99 / 100];
        fig->react_cpu_p50 = lat_cpu[INTROS / 2];
        closer_manager_free(m);
        closer_hypervisor_free(hv);
        closer_hostos_free(os);
        closer_simhost_free(sim);
        return 0;
}

int main(void) {
        int cpus = (int) sysconf(_SC_NPROCESSORS_ONLN);
        char why_irq[512] = "", why_numad[512] = "";
        double irq_ms = -1, numad_ms = -1;
        unsigned moved = 0, scans = 0;
        closerd_figures cd = {0};

        if (cpus < 1 || cpus > 4096)
                cpus = 1;
        closer_log_open("bench-peers", LOG_WARNING);
        (void) closer_rlimit_nofile_raise();    /* as closerd does */
        generate(cpus);

        /* irqbalance */
        if (!find_program("irqbalance", irqbalance_path, sizeof(irqbalance_path)))
                snprintf(why_irq, sizeof(why_irq), "irqbalance is not installed (scripts/install-deps --bench)");
        else if (geteuid() != 0)
                snprintf(why_irq, sizeof(why_irq), "needs root (a private mount namespace over /proc/irq)");
        else {
                double t[IRQBALANCE_RUNS];
                int k;
                for (k = 0; k < IRQBALANCE_RUNS; k++)
                        if ((t[k] = irqbalance_pass(why_irq, sizeof(why_irq))) < 0)
                                break;
                if (k == IRQBALANCE_RUNS) {
                        qsort(t, IRQBALANCE_RUNS, sizeof(double), cmp_double);
                        irq_ms = t[IRQBALANCE_RUNS / 2];
                        moved = irqbalance_moved(cpus);
                }
        }

        /* numad */
        if (!find_program("numad", numad_path, sizeof(numad_path)))
                snprintf(why_numad, sizeof(why_numad), "numad is not installed (scripts/install-deps --bench)");
        else if (geteuid() != 0)
                snprintf(why_numad, sizeof(why_numad), "needs root");
        else
                numad_ms = numad_scan(&scans, why_numad, sizeof(why_numad));

        /* closerd */
        if (closerd_ticks(&cd) < 0) {
                remove_tree();
                return 1;
        }
        remove_tree();

        int nodes = 0;
        for (;; nodes++) {
                char path[64];
                snprintf(path, sizeof(path), "/sys/devices/system/node/node%d", nodes);
                if (access(path, F_OK) < 0)
                        break;
        }
        printf("bench-peers: per pass, on this machine (%d CPUs, %d NUMA node%s), one run; load: fixture of %u dom0 "
               "threads, %u IRQs (%d CPU columns)\n",
               cpus, nodes, nodes == 1 ? "" : "s", cd.threads, cd.irqs, cpus);
        printf("  %-44s %-22s %s\n", "who, what one pass does", "CPU per pass", "reaction (new domain / IRQ)");
        if (irq_ms >= 0)
                printf("  %-44s %8.2f ms            %s\n", "irqbalance --oneshot: IRQs only", irq_ms,
                       "next pass: interval 10 s (irqbalance(1))");
        else
                printf("  %-44s NOT MEASURED: %s\n", "irqbalance --oneshot: IRQs only", why_irq);
        if (numad_ms >= 0)
                printf("  %-44s %8.2f ms            %s\n",
                       nodes > 1 ? "numad scan: processes' NUMA placement" : "numad scan (1 node: nothing to place)",
                       numad_ms, "next scan: 5 to 15 s (numad(8))");
        else
                printf("  %-44s NOT MEASURED: %s\n", "numad scan", why_numad);
        printf("  %-44s %8.2f ms            new domain p50 %.2f ms, p99 %.2f ms (CPU p50 %.2f ms); new IRQ: next "
               "tick, <= 1 s\n",
               "closerd tick: threads, IRQs, plan, memory", cd.tick_cpu_ms, cd.react_p50, cd.react_p99,
               cd.react_cpu_p50);
        printf("    closerd's phases per tick (closerctl status):");
        for (int p = 0; p < _CLOSER_PHASE_MAX; p++)
                printf(" %s %.2f", closer_tick_phase_name((closer_tick_phase) p), cd.phase_ms[p]);
        printf(" ms (dry run: apply acts on nothing here; ledger not kept)\n");
        if (irq_ms >= 0)
                printf("    irqbalance read the fixture's %d IRQs and narrowed %u of them (written into the fixture; "
                       "IRQs with no PCI device are class 'other' to it and stay on their node)\n",
                       N_IRQS, moved);
        if (numad_ms >= 0)
                printf("    numad: %u scans of this host's real /proc and /sys at -i 1:1 (it cannot read a tree)\n", scans);

        int missed = 0;
        if (irq_ms > 0) {
                missed = bench_target("closerd tick CPU / irqbalance --oneshot CPU, same load", cd.tick_cpu_ms / irq_ms,
                                      "x", "<=", 1.0);
        } else
                printf("  %-62s NOT MEASURED (irqbalance did not run: see above)\n",
                       "closerd tick CPU / irqbalance --oneshot CPU, same load");
        if (numad_ms > 0)
                bench_figure(nodes > 1 ? "closerd tick CPU / numad scan CPU"
                                       : "closerd tick CPU / numad scan CPU (1 node: numad places nothing)",
                             cd.tick_cpu_ms / numad_ms, "x");
        return missed ? 3 : 0;
}
