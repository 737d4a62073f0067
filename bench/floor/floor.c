/* The floor of `nsjoin -t PID --net --uts --ipc --mount --pid /bin/true`: open the
 * five namespace files of PID, setns(2) into each, fork (so the child is in the pid
 * namespace), exec /bin/true and wait for it. No option parsing, no checks beyond
 * the system calls' own results: nothing a real command could do less.
 * Usage: floor PID */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    static const char *kinds[] = {"net", "uts", "ipc", "mnt", "pid"};
    int fds[5];
    char path[64];
    if (argc != 2)
        return 1;
    for (int i = 0; i < 5; i++) {
        snprintf(path, sizeof path, "/proc/%s/ns/%s", argv[1], kinds[i]);
        fds[i] = open(path, O_RDONLY | O_CLOEXEC);
        if (fds[i] < 0) {
            perror(path);
            return 1;
        }
    }
    for (int i = 0; i < 5; i++) {
        if (setns(fds[i], 0) < 0) {
            perror("setns");
            return 1;
        }
        close(fds[i]);
    }
    pid_t child = fork();
    if (child < 0)
        return 1;
    if (child == 0) {
        execl("/bin/true", "/bin/true", (char *)NULL);
        _exit(127);
    }
    int status;
    if (waitpid(child, &status, 0) < 0)
        return 1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
