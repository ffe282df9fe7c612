// The constructor that starts a spare monitor: see doc.go. It runs before the Go runtime
// starts a thread, so fork(2) is safe here.
#define _GNU_SOURCE
#include <fcntl.h>
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
	pid_t pid = fork();
	if (pid == 0) {
		setsid();
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0 || dup2(pair[1], 3) < 0)
			_exit(125);
		// The environment is the command line's, with the marker IsMonitor looks for.
		size_t n = 0;
		while (envp[n] != NULL)
			n++;
		char **env = calloc(n + 2, sizeof(char *));
		if (env == NULL)
			_exit(125);
		memcpy(env, envp, n * sizeof(char *));
		env[n] = "CONTAINERLABS_MONITOR=-";
		char *args[] = {argv[0], "container-monitor", "-", NULL};
		execve("/proc/self/exe", args, env);
		_exit(127);
	}
	close(pair[1]);
	if (pid < 0) {
		close(pair[0]);
		return;
	}
	labs_spare_monitor_fd = pair[0];
	labs_spare_monitor_pid = pid;
}
