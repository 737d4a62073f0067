/*
 * step-trace OUT PROGRAM ARGS...: runs PROGRAM under ptrace, single-stepping every
 * instruction of it and of every process and thread it forks, until each one
 * exits or execs another program, and writes to OUT the distinct instruction
 * addresses it executed (hex, one per line, unsorted). For a position-dependent
 * (static) PROGRAM these are the addresses `nm` prints; a position-independent one
 * runs without address randomization, at 0x555555554000 plus what `nm` prints. bench/text-order.sh turns
 * them into the list of functions a run executes.
 *
 * valgrind cannot do this for nsjoin: it lacks pidfd_open, the first thing a run
 * does with its target, so everything after it would go unseen.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

/* Open addressing set of instruction addresses. */
static uint64_t *slots;
static size_t nslots = 1 << 22, used;

static void add(uint64_t ip) {
    size_t i = (ip * 0x9E3779B97F4A7C15ull) >> 42;
    while (slots[i & (nslots - 1)] && slots[i & (nslots - 1)] != ip)
        i++;
    if (!slots[i & (nslots - 1)]) {
        slots[i & (nslots - 1)] = ip;
        if (++used > nslots / 2) {
            fprintf(stderr, "step-trace: too many distinct addresses\n");
            exit(1);
        }
    }
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: step-trace OUT PROGRAM [ARGS...]\n");
        return 2;
    }
    slots = calloc(nslots, sizeof *slots);
    pid_t first = fork();
    if (first == 0) {
        /* A position-independent PROGRAM then loads where it always does
           (0x555555554000 on x86_64), so its addresses can be read back. */
        personality(ADDR_NO_RANDOMIZE);
        ptrace(PTRACE_TRACEME, 0, 0, 0);
        raise(SIGSTOP);
        execvp(argv[2], argv + 2);
        perror("step-trace: exec");
        _exit(127);
    }
    int status;
    waitpid(first, &status, 0);
    ptrace(PTRACE_SETOPTIONS, first, 0,
           PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE |
               PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL);
    /* Run (not step) to PROGRAM's own exec; stepping starts after it. */
    ptrace(PTRACE_CONT, first, 0, 0);
    waitpid(first, &status, 0);
    if (!(WIFSTOPPED(status) && status >> 8 == (SIGTRAP | (PTRACE_EVENT_EXEC << 8)))) {
        fprintf(stderr, "step-trace: %s did not start\n", argv[2]);
        return 1;
    }
    ptrace(PTRACE_SINGLESTEP, first, 0, 0);
    int exit_code = 0;
    for (;;) {
        pid_t pid = waitpid(-1, &status, __WALL);
        if (pid < 0) {
            if (errno == ECHILD)
                break;
            if (errno == EINTR)
                continue;
            perror("step-trace: waitpid");
            return 1;
        }
        if (WIFEXITED(status) || WIFSIGNALED(status)) {
            if (pid == first)
                exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            continue;
        }
        int sig = WSTOPSIG(status), event = status >> 16, deliver = 0;
        if (sig == SIGTRAP && event == PTRACE_EVENT_EXEC) {
            /* Another program now: no longer PROGRAM's code. */
            ptrace(PTRACE_DETACH, pid, 0, 0);
            continue;
        }
        if (sig == SIGTRAP && event == 0) {
            struct user_regs_struct regs;
            if (ptrace(PTRACE_GETREGS, pid, 0, &regs) == 0)
                add(regs.rip);
        } else if (sig == SIGSTOP && event == 0) {
            /* A new child's or thread's first stop: just start stepping it. */
        } else if (event == 0) {
            deliver = sig;
        }
        ptrace(PTRACE_SINGLESTEP, pid, 0, deliver);
    }
    FILE *out = fopen(argv[1], "w");
    if (!out) {
        perror("step-trace: OUT");
        return 1;
    }
    for (size_t i = 0; i < nslots; i++)
        if (slots[i])
            fprintf(out, "%llx\n", (unsigned long long)slots[i]);
    fclose(out);
    return exit_code;
}
