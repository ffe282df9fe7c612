// The constructor that starts a spare monitor: see doc.go. It runs before the Go runtime
// starts a thread, so that starting a process here is as safe as in any C program.
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

// The command line's end of the socket pair and the spare monitor's PID, for Take; -1
// when there is no spare.
int labs_spare_monitor_fd = -1;
int labs_spare_monitor_pid = -1;

// starts_a_container reports whether the command is run or start, after an optional
// --root DIR or --root=DIR.
static int starts_a_container(int argc, char **argv)
{
	int i = 1;
	if (i < argc && strcmp(argv[i], "--root") == 0)
		i += 2;
	else if (i < argc && strncmp(argv[i], "--root=", 7) == 0)
		i++;
	return i < argc && (strcmp(argv[i], "run") == 0 || strcmp(argv[i], "start") == 0);
}

__attribute__((constructor)) static void start_spare_monitor(int argc, char **argv, char **envp)
{
	if (getuid() != 0 || getenv("CONTAINERLABS_MONITOR") != NULL || getenv("_LABS_USERNS_JOIN") != NULL ||
	    !starts_a_container(argc, argv))
		return;
	int pair[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
		return; // Start executes a monitor the usual way
	// The pair must stay clear of 0, 1 and 2 (a command started with one of them closed
	// would get it there) and of 3, where the monitor's end goes.
	for (int i = 0; i < 2; i++) {
		if (pair[i] <= 3) {
			int moved = fcntl(pair[i], F_DUPFD_CLOEXEC, 4);
			close(pair[i]);
			pair[i] = moved;
		}
	}
	// The environment is the command line's, with the marker IsMonitor looks for.
	size_t n = 0;
	while (envp[n] != NULL)
		n++;
	char **env = calloc(n + 2, sizeof(char *));
	if (pair[0] < 0 || pair[1] < 0 || env == NULL) {
		close(pair[0]);
		close(pair[1]);
		free(env);
		return;
	}
	memcpy(env, envp, n * sizeof(char *));
	env[n] = "CONTAINERLABS_MONITOR=-";
	char *args[] = {argv[0], "container-monitor", "-", NULL};
	// posix_spawn lends the child this process's memory until it executes (vfork): unlike
	// fork, it copies no page table, and leaves no page of either process to be copied on
	// its next write. Its file actions run in the child, in this order.
	posix_spawn_file_actions_t actions;
	posix_spawnattr_t attr;
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_adddup2(&actions, pair[1], 3);
	posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDWR, 0);
	posix_spawn_file_actions_adddup2(&actions, 0, 1);
	posix_spawn_file_actions_adddup2(&actions, 0, 2);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
	pid_t pid;
	int err = posix_spawn(&pid, "/proc/self/exe", &actions, &attr, args, env);
	posix_spawn_file_actions_destroy(&actions);
	posix_spawnattr_destroy(&attr);
	free(env);
	close(pair[1]);
	if (err != 0) {
		close(pair[0]);
		return;
	}
	labs_spare_monitor_fd = pair[0];
	labs_spare_monitor_pid = pid;
}
