// The joining half of a rootless engine's commands, and the pause that holds the engine's
// namespaces: see doc.go. Runs as a constructor, before the Go runtime starts a thread.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#define ENV_JOIN "_LABS_USERNS_JOIN"
#define ENV_PAUSE "_LABS_USERNS_PAUSE"

// fail says what could not be done, with errno's text, and ends the command with Docker's
// status for an engine error.
static void fail(const char *what)
{
	fprintf(stderr, "08-engine: %s: %s\n", what, strerror(errno));
	_exit(125);
}

__attribute__((constructor)) static void userns_constructor(void)
{
	if (getenv(ENV_PAUSE) != NULL) {
		// The pause: nothing to do but exist. A signal with its default action (the
		// engine sends SIGTERM when nothing runs any more) ends it. Its name, for ps and
		// pgrep, is its own rather than that of the binary it was executed from.
		prctl(PR_SET_NAME, "labs-pause", 0, 0, 0);
		for (;;)
			pause();
	}
	const char *fds = getenv(ENV_JOIN);
	if (fds == NULL)
		return;
	int user_fd, mnt_fd;
	if (sscanf(fds, "%d,%d", &user_fd, &mnt_fd) != 2) {
		errno = EINVAL;
		fail(ENV_JOIN " is not USERFD,MNTFD");
	}
	// setns of a mount namespace moves the root and the current directory to the
	// namespace's root: remember where the command was started, by path (the same path
	// leads to the same place in the engine's copy of the mounts) and by descriptor.
	char cwd[PATH_MAX];
	int have_cwd = getcwd(cwd, sizeof(cwd)) != NULL;
	int cwd_fd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (setns(user_fd, CLONE_NEWUSER) < 0)
		fail("join the engine's user namespace");
	if (setns(mnt_fd, CLONE_NEWNS) < 0)
		fail("join the engine's mount namespace");
	close(user_fd);
	close(mnt_fd);
	if (!(have_cwd && chdir(cwd) == 0) && !(cwd_fd >= 0 && fchdir(cwd_fd) == 0))
		fail("return to the working directory");
	if (cwd_fd >= 0)
		close(cwd_fd);
}
