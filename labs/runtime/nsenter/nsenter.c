// The namespace-entering half of every process the runtime puts into a container. It runs as
// a constructor, before main and before the Go runtime has started a second thread, because
// the kernel refuses setns(2) into a mount or user namespace, and unshare(2) of a user
// namespace, to a process that has more than one thread. See doc.go for the protocol.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/prctl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "cinit.h"

#define ENV_SYNC "_LABS_NSENTER"
#define MAX_JOINS 16
#define LINE_MAX_LEN 4096

static int sync_fd = -1;

// say writes one line to the parent. A failed write means the parent is gone; nothing is left
// to tell it, and the caller ends soon anyway.
static void say(const char *fmt, ...)
{
	char line[LINE_MAX_LEN];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	for (int off = 0; off < n;) {
		ssize_t w = write(sync_fd, line + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		off += w;
	}
}

// fail reports what went wrong, with errno's text, and ends this process. The parent turns
// the line into the error of the command that started us.
static void fail(const char *fmt, ...)
{
	char what[LINE_MAX_LEN / 2];
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	say("error %s: %s", what, strerror(saved));
	_exit(1);
}

// read_line reads one line from the parent, byte by byte: whatever follows the plan on the
// same descriptor belongs to the Go side, so not one byte more may be consumed here.
static void read_line(char *buf, size_t size)
{
	size_t n = 0;
	for (;;) {
		char c;
		ssize_t r = read(sync_fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			fail("read the plan from the parent");
		if (r == 0) {
			errno = EPIPE;
			fail("read the plan from the parent");
		}
		if (c == '\n')
			break;
		if (n + 1 >= size) {
			errno = E2BIG;
			fail("read the plan from the parent");
		}
		buf[n++] = c;
	}
	buf[n] = '\0';
}

struct join {
	int fd;
	char what[LINE_MAX_LEN];
};

__attribute__((constructor)) static void nsenter(void)
{
	const char *env = getenv(ENV_SYNC);
	if (env == NULL || *env == '\0')
		return;
	sync_fd = atoi(env);

	// Until it execs the container's command, this process holds descriptors of the host
	// (the sync socket, the exec fifo, bind-mount sources). A process of the container that
	// could ptrace it, or open /proc/PID/fd of it, would reach them: a process that is not
	// dumpable can be inspected only with CAP_SYS_PTRACE over the host. execve makes the
	// command dumpable again.
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		fail("make the process non-dumpable");

	struct join joins[MAX_JOINS];
	int njoins = 0, new_user = 0, root_fd = -1, stay = 0;
	unsigned long flags = 0;
	char offsets[LINE_MAX_LEN] = "";
	char line[LINE_MAX_LEN];

	// Every path is opened before the first setns: once in another mount namespace, the
	// paths (/proc/PID/ns/..., a bind-mounted namespace file) may no longer be reachable.
	for (;;) {
		read_line(line, sizeof(line));
		if (line[0] == '\0')
			break;
		if (strncmp(line, "join ", 5) == 0) {
			if (njoins == MAX_JOINS) {
				errno = E2BIG;
				fail("join %s", line + 5);
			}
			char *path = strchr(line + 5, ' ');
			if (path == NULL) {
				errno = EINVAL;
				fail("plan line %s", line);
			}
			path++;
			int fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				fail("open namespace %s", line + 5);
			joins[njoins].fd = fd;
			snprintf(joins[njoins].what, sizeof(joins[njoins].what), "%s", line + 5);
			njoins++;
		} else if (strncmp(line, "root ", 5) == 0) {
			root_fd = open(line + 5, O_PATH | O_DIRECTORY | O_CLOEXEC);
			if (root_fd < 0)
				fail("open root %s", line + 5);
		} else if (strcmp(line, "stay") == 0) {
			stay = 1;
		} else if (strcmp(line, "userns") == 0) {
			new_user = 1;
		} else if (strncmp(line, "unshare ", 8) == 0) {
			flags = strtoul(line + 8, NULL, 0);
		} else if (strncmp(line, "timens ", 7) == 0) {
			size_t used = strlen(offsets);
			snprintf(offsets + used, sizeof(offsets) - used, "%s\n", line + 7);
		} else {
			errno = EINVAL;
			fail("plan line %s", line);
		}
	}

	// The user namespace comes first in the plan: joining it grants the capabilities that
	// the other namespaces, which it owns, check for.
	for (int i = 0; i < njoins; i++) {
		if (setns(joins[i].fd, 0) < 0)
			fail("join namespace %s", joins[i].what);
		close(joins[i].fd);
	}

	if (new_user) {
		if (unshare(CLONE_NEWUSER) < 0)
			fail("unshare the user namespace");
		// Only a process outside may write our uid and gid maps; ask the parent, and wait.
		// The files of a process that is not dumpable belong to root: an ordinary user's
		// runtime (rootless) could not write them. Nothing but us is in the namespace yet,
		// so we are dumpable for as long as the parent writes, as runc's nsexec is.
		if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
			fail("make the process dumpable for the ID maps");
		say("userns");
		read_line(line, sizeof(line));
		if (strcmp(line, "mapped") != 0) {
			errno = EPROTO;
			fail("wait for the uid and gid maps (got %s)", line);
		}
		if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
			fail("make the process non-dumpable again");
		// Become root of the new namespace, so that execve later keeps our capabilities.
		if (setresgid(0, 0, 0) < 0)
			fail("become gid 0 in the user namespace");
		if (setresuid(0, 0, 0) < 0)
			fail("become uid 0 in the user namespace");
	}

	if (flags != 0 && unshare((int)flags) < 0)
		fail("unshare namespaces 0x%lx", flags);

	if (offsets[0] != '\0') {
		int fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			fail("open /proc/self/timens_offsets");
		if (write(fd, offsets, strlen(offsets)) < 0)
			fail("write time namespace offsets");
		close(fd);
	}

	// After setns into a mount namespace, "/" is that namespace's root, which is not the
	// container's root if the container was started with chroot (--no-pivot).
	if (root_fd >= 0) {
		if (fchdir(root_fd) < 0 || chroot(".") < 0 || chdir("/") < 0)
			fail("enter the container's root");
		close(root_fd);
	}

	// A new or joined PID namespace applies only to children, so the process that goes on
	// is a child. It is the one the parent gets to know; we, its parent, exit at once, and
	// the kernel hands it to the nearest subreaper: the runtime that started us.
	pid_t pid = fork();
	if (pid < 0)
		fail("fork into the namespaces");
	if (pid == 0) {
		// The child is the container's init. With "stay" it never starts the Go runtime:
		// the C init reads its program and execs the command.
		if (stay)
			labs_cinit(sync_fd);
		return;
	}
	say("pid %d", pid);
	_exit(0);
}
