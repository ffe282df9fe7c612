// The container's init in C: the runtime's fast path from clone to execve, without the Go
// runtime. nsenter's constructor calls it, in the process it forked into the container's
// namespaces, when the plan said "stay" (see doc.go). The runtime has already decided
// everything that can be decided outside (labs/runtime's cinit_linux.go: the parsed config,
// the mount flags, the device list, the compiled seccomp filter); this file only carries
// the steps out, in the order the Go init (init_linux.go) takes them, with the same checks
// and the same errors. It is the same split runc makes with its nsexec and crun makes for
// everything: the decisions in one place, the system calls in a process that starts in a
// millisecond instead of the Go runtime's ten.
//
// The program is a list of steps, each a list of fields; see readProgram for the encoding.
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>

#include "cinit.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef KEYCTL_JOIN_SESSION_KEYRING
#define KEYCTL_JOIN_SESSION_KEYRING 1
#endif

// The exit statuses of a command that could not run (Docker's convention, as the Go side's
// process.ExitCodeFor): not found, found but not runnable, anything else.
#define EXIT_NOT_FOUND 127
#define EXIT_NOT_RUNNABLE 126
#define EXIT_SETUP 125

struct field {
	char *s;
	size_t n;
};

struct step {
	int nfields;
	struct field *f;
};

static int sock = -1;
// ready is set once "ready" went to the runtime: after that nobody reads the socket, and an
// error goes to the container's stderr instead.
static int ready;

static void write_all(int fd, const char *buf, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, buf, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		buf += w;
		n -= w;
	}
}

// die reports an error the way the Go init does, as a syncMsg of type "error" with the exit
// status it stands for, and ends the process with that status.
__attribute__((noreturn, format(printf, 2, 3))) static void die(int code, const char *fmt, ...)
{
	char msg[4096], line[8400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ready) {
		dprintf(2, "labs-runc init: %s\n", msg);
		_exit(code);
	}
	size_t n = (size_t)snprintf(line, sizeof(line), "{\"type\":\"error\",\"error\":\"");
	for (const char *c = msg; *c && n < sizeof(line) - 64; c++) {
		unsigned char u = (unsigned char)*c;
		if (u == '"' || u == '\\')
			n += snprintf(line + n, sizeof(line) - n, "\\%c", u);
		else if (u < 0x20)
			n += snprintf(line + n, sizeof(line) - n, "\\u%04x", u);
		else
			line[n++] = (char)u;
	}
	n += snprintf(line + n, sizeof(line) - n, "\",\"code\":%d}\n", code);
	write_all(sock, line, n);
	_exit(code);
}

// fail is die for a failed system call: errno's text ends the message.
#define fail(...) fail_errno(errno, __VA_ARGS__)
__attribute__((noreturn, format(printf, 2, 3))) static void fail_errno(int err, const char *fmt, ...)
{
	char what[3000];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	// In Go's words: the same text as the C library's, without the capital.
	char text[256];
	snprintf(text, sizeof(text), "%s", strerror(err));
	if (text[0] >= 'A' && text[0] <= 'Z' && !(text[1] >= 'A' && text[1] <= 'Z'))
		text[0] = (char)(text[0] - 'A' + 'a');
	die(EXIT_SETUP, "%s: %s", what, text);
}

static void read_full(void *buf, size_t n)
{
	char *p = buf;
	while (n > 0) {
		ssize_t r = read(sock, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EPIPE;
			fail("read the init's program from the runtime");
		}
		p += r;
		n -= r;
	}
}

static uint32_t take_u32(const char **p, const char *end)
{
	uint32_t v;
	if (end - *p < 4) {
		errno = EPROTO;
		fail("decode the init's program");
	}
	memcpy(&v, *p, 4);
	*p += 4;
	return v;
}

// readProgram reads the program: a little-endian u32 with the size of what follows, then
// the steps, each a u32 count of fields and the fields, each a u32 length and its bytes. A
// field is kept with a NUL after it, so that a text field is a C string as it is (a binary
// one, the seccomp filter, uses its length).
static struct step *read_program(int *count)
{
	uint32_t size;
	read_full(&size, 4);
	char *buf = malloc(size ? size : 1);
	if (buf == NULL)
		fail("allocate the init's program");
	read_full(buf, size);
	const char *p = buf, *end = buf + size;
	int cap = 64, n = 0;
	struct step *steps = malloc(sizeof(*steps) * cap);
	while (p < end) {
		if (n == cap) {
			cap *= 2;
			steps = realloc(steps, sizeof(*steps) * cap);
		}
		if (steps == NULL)
			fail("allocate the init's program");
		uint32_t nf = take_u32(&p, end);
		if (nf == 0 || nf > 4096) {
			errno = EPROTO;
			fail("decode the init's program");
		}
		steps[n].nfields = (int)nf;
		steps[n].f = calloc(nf, sizeof(struct field));
		for (uint32_t i = 0; i < nf; i++) {
			uint32_t len = take_u32(&p, end);
			if ((size_t)(end - p) < len) {
				errno = EPROTO;
				fail("decode the init's program");
			}
			char *s = malloc(len + 1);
			if (s == NULL)
				fail("allocate the init's program");
			memcpy(s, p, len);
			s[len] = '\0';
			steps[n].f[i].s = s;
			steps[n].f[i].n = len;
			p += len;
		}
		n++;
	}
	free(buf);
	*count = n;
	return steps;
}

static unsigned long num(const char *s) { return strtoul(s, NULL, 0); }
static const char *opt(const char *s) { return s && *s ? s : NULL; }

// --- lookups inside the root (rootfs.OpenInRoot and friends in Go) ---

static int root_fd = -1;
static char root_path[PATH_MAX];

// open_in_root opens path inside the root as a process chrooted there would see it, with
// the kernel resolving each component (RESOLVE_IN_ROOT; never through a /proc magic link).
static int open_in_root(const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	if (flags & O_CREAT)
		how.mode = 0644;
	while (*path == '/')
		path++;
	if (*path == '\0')
		path = ".";
	return (int)syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
}

// path_in_root writes where the open file fd is, as a path inside the root ("/etc/hosts").
static void path_in_root(int fd, char *out, size_t size)
{
	char link[64], p[PATH_MAX];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, p, sizeof(p) - 1);
	if (n < 0)
		fail("read where %s leads", link);
	p[n] = '\0';
	size_t rl = strlen(root_path);
	if (strcmp(p, root_path) == 0) {
		snprintf(out, size, "/");
		return;
	}
	if (strncmp(p, root_path, rl) != 0 || p[rl] != '/')
		die(EXIT_SETUP, "%s is not inside %s", p, root_path);
	snprintf(out, size, "%s", p + rl);
}

// mkdir_all_in_root makes the directory path inside the root with its missing parents, each
// made from its parent's descriptor and looked up again from the root, and returns it
// opened with O_PATH.
static int mkdir_all_in_root(const char *path)
{
	char done[PATH_MAX] = "", copy[PATH_MAX];
	snprintf(copy, sizeof(copy), "%s", path);
	int dir = open_in_root("/", O_PATH | O_DIRECTORY);
	if (dir < 0)
		fail("open the root %s", root_path);
	char *save = NULL;
	for (char *part = strtok_r(copy, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
		size_t used = strlen(done);
		snprintf(done + used, sizeof(done) - used, "/%s", part);
		if (mkdirat(dir, part, 0755) < 0 && errno != EEXIST)
			fail("make %s inside %s", done, root_path);
		int child = open_in_root(done, O_PATH | O_DIRECTORY);
		close(dir);
		if (child < 0)
			fail("make %s inside %s", done, root_path);
		dir = child;
	}
	return dir;
}

static void split_dir(const char *path, char *dir, size_t size, const char **base)
{
	snprintf(dir, size, "%s", path);
	char *slash = strrchr(dir, '/');
	*base = path + (slash - dir) + 1;
	if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
}

// create_in_root makes sure a mount point exists at path inside the root, a directory or an
// empty file, and returns it opened with O_PATH (rootfs.CreateInRoot).
static int create_in_root(const char *path, int dir)
{
	if (dir)
		return mkdir_all_in_root(path);
	char parent[PATH_MAX];
	const char *base;
	split_dir(path, parent, sizeof(parent), &base);
	close(mkdir_all_in_root(parent));
	int fd = open_in_root(path, O_PATH);
	if (fd >= 0 || errno != ENOENT)
		return fd;
	fd = open_in_root(path, O_CREAT | O_WRONLY | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		fail("make %s inside %s", path, root_path);
	close(fd);
	return open_in_root(path, O_PATH);
}

// --- mounts ---

static void do_mount(const char *src, const char *target, const char *fstype, unsigned long flags, const char *data)
{
	if (mount(opt(src), target, opt(fstype), flags, opt(data)) < 0)
		fail("mount %s on %s (type %s, flags %#lx, data %s)", src, target, fstype, flags, data);
}

// remount changes the flags of the bind mount at target; inside a user namespace the kernel
// locks some of a mount's flags, so when it refuses, the locked ones are kept and it is
// tried again (remount in rootfs_linux.go).
static void remount(const char *target, unsigned long flags)
{
	flags |= MS_BIND | MS_REMOUNT;
	if (mount(NULL, target, NULL, flags, NULL) == 0)
		return;
	if (errno != EPERM)
		fail("remount %s (flags %#lx)", target, flags);
	struct statvfs st;
	if (statvfs(target, &st) < 0) {
		errno = EPERM;
		fail("remount %s (flags %#lx)", target, flags);
	}
	static const struct {
		unsigned long st, ms;
	} locked[] = {
		{ST_NOSUID, MS_NOSUID}, {ST_NODEV, MS_NODEV}, {ST_NOEXEC, MS_NOEXEC},
		{ST_NOATIME, MS_NOATIME}, {ST_NODIRATIME, MS_NODIRATIME}, {ST_RELATIME, MS_RELATIME},
	};
	for (size_t i = 0; i < sizeof(locked) / sizeof(locked[0]); i++)
		if (st.f_flag & locked[i].st)
			flags |= locked[i].ms;
	if (mount(NULL, target, NULL, flags, NULL) < 0)
		fail("remount %s (flags %#lx)", target, flags);
}

static char proc_files[32][PATH_MAX];
static int nproc_files;

// The "mount" step: one entry of the config's mounts (mountOne in rootfs_linux.go).
//
//	mount KIND SRC DEST FSTYPE FLAGS DATA DIR REALDIR PROCOK PROPAGATIONS ATTRSET ATTRCLR
//	      [CGROUP...]
//
// KIND is "bind", "rbind", "fs" or one of the cgroup kinds; DEST is clean and absolute; DIR says
// whether the mount point is a directory; REALDIR asks for checkRealDirectory; PROCOK says
// the mount may go exactly at /proc; PROPAGATIONS is a comma list of MS_* values.
static void mount_one(struct step *s)
{
	if (s->nfields < 13)
		die(EXIT_SETUP, "init program: mount step with %d fields", s->nfields);
	const char *kind = s->f[1].s, *src = s->f[2].s, *dest = s->f[3].s, *fstype = s->f[4].s;
	unsigned long flags = num(s->f[5].s);
	const char *data = s->f[6].s;
	int dir = s->f[7].s[0] == '1', realdir = s->f[8].s[0] == '1', procok = s->f[9].s[0] == '1';

	if (realdir) {
		char parent[PATH_MAX];
		const char *base;
		split_dir(dest, parent, sizeof(parent), &base);
		int pfd = open_in_root(parent, O_PATH | O_DIRECTORY);
		if (pfd >= 0) {
			struct stat st;
			if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
				if (S_ISLNK(st.st_mode)) {
					char to[PATH_MAX] = "";
					ssize_t n = readlinkat(pfd, base, to, sizeof(to) - 1);
					to[n > 0 ? n : 0] = '\0';
					die(EXIT_SETUP, "mount %s on %s: the image's %s is a symlink (to \"%s\"): refused, %s must be mounted on ordinary directory", fstype, dest, dest, to, fstype);
				}
				if (!S_ISDIR(st.st_mode))
					die(EXIT_SETUP, "mount %s on %s: the image's %s is not a directory: refused, %s must be mounted on ordinary directory", fstype, dest, dest, fstype);
			} else if (errno != ENOENT) {
				fail("mount %s on %s", fstype, dest);
			}
			close(pfd);
		} else if (errno != ENOENT) {
			fail("mount %s on %s", fstype, dest);
		}
	}

	int target = create_in_root(dest, dir);
	if (target < 0)
		fail("mount %s on %s", src, dest);
	char inside[PATH_MAX];
	path_in_root(target, inside, sizeof(inside));
	if (strcmp(inside, "/proc") == 0 || strncmp(inside, "/proc/", 6) == 0) {
		int allowed = strcmp(inside, "/proc") == 0 && procok;
		for (int i = 0; !allowed && i < nproc_files; i++)
			allowed = strcmp(inside, proc_files[i]) == 0;
		if (!allowed && strcmp(inside, dest) != 0)
			die(EXIT_SETUP, "mount %s on %s: it leads to %s, inside /proc: refused", src, dest, inside);
		if (!allowed)
			die(EXIT_SETUP, "mount %s on %s: nothing but procfs may be mounted inside /proc", src, dest);
	}

	char at[64], mounted[64];
	snprintf(at, sizeof(at), "/proc/self/fd/%d", target);
	// After the mount, the descriptor still names what lies beneath: the steps that follow
	// need the new mount, opened again by its path inside the root and checked to be there.
	int reopened = -1;
#define MOUNTED()                                                                        \
	do {                                                                             \
		if (reopened >= 0)                                                       \
			close(reopened);                                                 \
		reopened = open_in_root(inside, O_PATH);                                 \
		if (reopened < 0)                                                        \
			fail("open %s after mounting on it", dest);                      \
		char again[PATH_MAX];                                                    \
		path_in_root(reopened, again, sizeof(again));                            \
		if (strcmp(again, inside) != 0)                                          \
			die(EXIT_SETUP, "%s moved while it was mounted on (now \"%s\")", dest, again); \
		snprintf(mounted, sizeof(mounted), "/proc/self/fd/%d", reopened);        \
	} while (0)

	if (strcmp(kind, "bind") == 0 || strcmp(kind, "rbind") == 0) {
		// Flags such as ro cannot be given with the bind itself: a remount sets them.
		do_mount(src, at, NULL, MS_BIND | (kind[0] == 'r' ? MS_REC : 0), NULL);
		if (flags & ~MS_REMOUNT) {
			MOUNTED();
			remount(mounted, flags);
		}
	} else if (strcmp(kind, "fs") == 0) {
		do_mount(src, at, fstype, flags, data);
	} else if (strcmp(kind, "cgroup2-ns") == 0) {
		do_mount("cgroup2", at, "cgroup2", flags, NULL);
	} else if (strcmp(kind, "cgroup2-bind") == 0) {
		do_mount(s->f[13].s, at, NULL, MS_BIND, NULL);
		MOUNTED();
		remount(mounted, flags);
	} else if (strcmp(kind, "cgroup1-ns") == 0 || strcmp(kind, "cgroup1-bind") == 0) {
		// A small tmpfs with a directory per hierarchy, as on a host. Fields 13 on come in
		// threes: the hierarchy's name ("cpu,cpuacct"), its directory on the host, and a
		// comma list of the controllers that get a symlink to it.
		int fresh = strcmp(kind, "cgroup1-ns") == 0;
		do_mount("tmpfs", at, "tmpfs", flags & ~MS_RDONLY, "mode=755");
		MOUNTED();
		for (int i = 13; i + 2 < s->nfields; i += 3) {
			const char *name = s->f[i].s, *host = s->f[i + 1].s;
			char sub[PATH_MAX];
			snprintf(sub, sizeof(sub), "%s/%s", mounted, name);
			if (mkdir(sub, 0755) < 0)
				fail("make mount point %s", sub);
			if (fresh) {
				do_mount("cgroup", sub, "cgroup", flags, name);
			} else {
				do_mount(host, sub, NULL, MS_BIND, NULL);
				remount(sub, flags);
			}
			char links[PATH_MAX];
			snprintf(links, sizeof(links), "%s", s->f[i + 2].s);
			char *save = NULL;
			for (char *c = strtok_r(links, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
				char link[PATH_MAX];
				snprintf(link, sizeof(link), "%s/%s", mounted, c);
				if (symlink(name, link) < 0)
					fail("link cgroup controller %s", c);
			}
		}
		if (flags & MS_RDONLY)
			do_mount(NULL, mounted, NULL, MS_REMOUNT | flags, NULL);
	} else {
		die(EXIT_SETUP, "init program: unknown mount kind %s", kind);
	}

	const char *props = s->f[10].s;
	uint64_t attr_set = num(s->f[11].s), attr_clr = num(s->f[12].s);
	if (*props || attr_set || attr_clr) {
		MOUNTED();
		char list[256];
		snprintf(list, sizeof(list), "%s", props);
		char *save = NULL;
		for (char *p = strtok_r(list, ",", &save); p; p = strtok_r(NULL, ",", &save))
			do_mount(NULL, mounted, NULL, num(p), NULL);
		if (attr_set || attr_clr) {
			struct mount_attr attr = {.attr_set = attr_set, .attr_clr = attr_clr};
			if (syscall(SYS_mount_setattr, -1, mounted, AT_RECURSIVE, &attr, sizeof(attr)) < 0)
				fail("set recursive attributes %#llx (clear %#llx) on %s", (unsigned long long)attr_set, (unsigned long long)attr_clr, dest);
		}
	}
#undef MOUNTED
	if (reopened >= 0)
		close(reopened);
	close(target);
}

// The "device" step: PATH MODE MAJOR MINOR UID GID (createDevice): a node, MODE being its
// type and permissions, made with mknod in its directory, looked up inside the root.
static void make_device(struct step *s)
{
	const char *path = s->f[1].s;
	mode_t mode = (mode_t)num(s->f[2].s);
	dev_t dev = makedev(num(s->f[3].s), num(s->f[4].s));
	long uid = strtol(s->f[5].s, NULL, 10), gid = strtol(s->f[6].s, NULL, 10);
	char parent[PATH_MAX];
	const char *base;
	split_dir(path, parent, sizeof(parent), &base);
	int dir = mkdir_all_in_root(parent);
	unlinkat(dir, base, 0);
	if (mknodat(dir, base, mode, dev) < 0)
		fail("mknod %s (%#o %s:%s)", path, mode, s->f[3].s, s->f[4].s);
	// mknod's mode was filtered by the umask.
	if (fchmodat(dir, base, mode & 07777, 0) < 0)
		fail("chmod %s", path);
	if ((uid >= 0 || gid >= 0) && fchownat(dir, base, (uid_t)uid, (gid_t)gid, AT_SYMLINK_NOFOLLOW) < 0)
		fail("chown %s", path);
	close(dir);
}

// The "devlink" step: NAME TARGET, a symlink in the container's /dev (/dev/fd and so on).
static void make_dev_link(struct step *s)
{
	int dev = open_in_root("/dev", O_PATH | O_DIRECTORY);
	if (dev < 0)
		fail("open /dev inside %s", root_path);
	if (symlinkat(s->f[2].s, dev, s->f[1].s) < 0 && errno != EEXIST)
		fail("link /dev/%s", s->f[1].s);
	close(dev);
}

// The "pivot" step: PROPAGATION (switchRoot in rootfs_linux.go, its pivot_root half).
static void pivot(struct step *s)
{
	int old = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (old < 0)
		fail("open the old root");
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		fail("pivot_root into the container's root");
	if (fchdir(old) < 0)
		fail("change into the old root");
	do_mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL);
	if (umount2(".", MNT_DETACH) < 0)
		fail("detach the old root");
	close(old);
	if (chdir("/") < 0)
		fail("enter the new root");
	unsigned long prop = num(s->f[1].s);
	if (prop)
		do_mount(NULL, "/", NULL, prop, NULL);
}

static void mask(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		if (errno == ENOENT)
			return;
		fail("mask %s", path);
	}
	if (S_ISDIR(st.st_mode))
		do_mount("tmpfs", path, "tmpfs", MS_RDONLY, NULL);
	else
		do_mount("/dev/null", path, NULL, MS_BIND, NULL);
}

static void readonly(const char *path)
{
	if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0) {
		if (errno == ENOENT)
			return;
		fail("mount %s on %s (flags %#x)", path, path, MS_BIND | MS_REC);
	}
	remount(path, MS_RDONLY | MS_REC);
}

static void write_file(const char *path, const char *value, const char *what)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, value, strlen(value)) < 0)
		fail("set %s", what);
	close(fd);
}

// --- the process ---

static int cwd_deferred;

// enter_cwd enters the working directory and checks that it is inside the container's root
// (verifyCwd in process_linux.go: getcwd names a directory outside the root with
// "(unreachable)", which is not an absolute path).
static void enter_cwd(const char *cwd, int may_defer)
{
	if (chdir(cwd) < 0) {
		if (may_defer && (errno == EACCES || errno == EPERM)) {
			cwd_deferred = 1;
			return;
		}
		fail("enter the working directory %s", cwd);
	}
	char wd[PATH_MAX];
	long n = syscall(SYS_getcwd, wd, sizeof(wd));
	if ((n < 0 && errno == ENOENT) || (n > 0 && wd[0] != '/'))
		die(EXIT_SETUP, "working directory %s is outside the container's root (a descriptor of the host, reached through /proc/self/fd?): refusing to run the command", cwd);
	if (n < 0)
		fail("check the working directory %s", cwd);
}

static void load_seccomp(struct step *s)
{
	struct field *prog = &s->f[2];
	if (prog->n == 0 || prog->n % sizeof(struct sock_filter) != 0)
		die(EXIT_SETUP, "load the seccomp filter: %zu bytes is not a BPF program", prog->n);
	struct sock_fprog fprog = {
		.len = (unsigned short)(prog->n / sizeof(struct sock_filter)),
		.filter = (struct sock_filter *)prog->s,
	};
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, num(s->f[1].s), &fprog) < 0)
		fail("load the seccomp filter");
}

// The "user" step: UID GID GROUPS UMASK DROP (setUser in process_linux.go): DROP is a
// comma list of the capabilities to take out of the bounding set; UMASK is "" to keep it.
static void set_user(struct step *s)
{
	char list[4096];
	snprintf(list, sizeof(list), "%s", s->f[5].s);
	char *save = NULL;
	for (char *c = strtok_r(list, ",", &save); c; c = strtok_r(NULL, ",", &save))
		if (prctl(PR_CAPBSET_DROP, num(c), 0, 0, 0) < 0 && errno != EINVAL)
			fail("drop capability %s from the bounding set", c);
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		fail("keep capabilities across setuid");
	gid_t groups[NGROUPS_MAX];
	int ngroups = 0;
	snprintf(list, sizeof(list), "%s", s->f[3].s);
	for (char *g = strtok_r(list, ",", &save); g && ngroups < NGROUPS_MAX; g = strtok_r(NULL, ",", &save))
		groups[ngroups++] = (gid_t)num(g);
	// The raw calls change this thread only, as the Go side's do; this process has one.
	if (syscall(SYS_setgroups, ngroups, groups) < 0 && !(errno == EPERM && ngroups == 0))
		fail("set supplementary groups %s", s->f[3].s);
	gid_t gid = (gid_t)num(s->f[2].s);
	uid_t uid = (uid_t)num(s->f[1].s);
	if (syscall(SYS_setresgid, gid, gid, gid) < 0)
		fail("set gid %u", gid);
	if (syscall(SYS_setresuid, uid, uid, uid) < 0)
		fail("set uid %u", uid);
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		fail("clear keepcaps");
	if (s->f[4].s[0] != '\0')
		umask((mode_t)num(s->f[4].s));
}

// The "caps" step: EFFECTIVE PERMITTED INHERITABLE AMBIENT, 64-bit masks (setCapabilities).
static void set_caps(struct step *s)
{
	unsigned long long e = strtoull(s->f[1].s, NULL, 0), p = strtoull(s->f[2].s, NULL, 0),
			   i = strtoull(s->f[3].s, NULL, 0), a = strtoull(s->f[4].s, NULL, 0);
	struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2] = {
		{.effective = (uint32_t)e, .permitted = (uint32_t)p, .inheritable = (uint32_t)i},
		{.effective = (uint32_t)(e >> 32), .permitted = (uint32_t)(p >> 32), .inheritable = (uint32_t)(i >> 32)},
	};
	if (syscall(SYS_capset, &header, data) < 0)
		fail("set capabilities (effective %#llx, permitted %#llx, inheritable %#llx)", e, p, i);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		fail("clear the ambient capabilities");
	for (int bit = 0; bit < 64; bit++) {
		if (!(a & p & i & (1ULL << bit)))
			continue;
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, bit, 0, 0) < 0)
			fail("raise ambient capability %d (it must be permitted and inheritable too)", bit);
	}
}

// stat_inside stats path as rootfs.Resolve would find it: symlinks followed, but not the
// magic links of /proc (/proc/self/exe leads out of the root, so it is "not there"). Under a
// seccomp profile older than openat2 (runtime-tools' default, say), which refuses it with
// EPERM or ENOSYS, it is a plain stat: the runtime's binary is read-only to the container
// anyway (labs/runtime's selfexe_linux.go), which is what the refusal protected.
static int stat_inside(const char *path, struct stat *st)
{
	struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_NO_MAGICLINKS};
	int fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
	if (fd < 0 && (errno == ENOSYS || errno == EPERM))
		return stat(path, st);
	if (fd < 0)
		return -1;
	int r = fstat(fd, st);
	close(fd);
	return r;
}

// interpreter returns, in out, the program the kernel loads before file: the "#!" line of a
// script, or the ELF interpreter of a dynamically linked binary; "" if there is none.
static void interpreter(const char *file, char *out, size_t size, const char **kind)
{
	out[0] = '\0';
	int fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return;
	char head[4096];
	ssize_t n = pread(fd, head, sizeof(head) - 1, 0);
	if (n > 2 && head[0] == '#' && head[1] == '!') {
		// The first word of the first line (of its first 4 KiB, as the Go side reads it).
		head[n] = '\0';
		char *p = head + 2;
		p += strspn(p, " \t\v\f\r");
		size_t len = strcspn(p, " \t\v\f\r\n");
		snprintf(out, size, "%.*s", (int)len, p);
		*kind = "script interpreter";
	} else if (n >= (ssize_t)sizeof(Elf64_Ehdr) && memcmp(head, ELFMAG, SELFMAG) == 0) {
		// The program headers, of a 64-bit or a 32-bit file, in this machine's byte order.
		int wide = head[EI_CLASS] == ELFCLASS64;
		Elf64_Ehdr e64;
		Elf32_Ehdr e32;
		memcpy(&e64, head, sizeof(e64));
		memcpy(&e32, head, sizeof(e32));
		uint64_t phoff = wide ? e64.e_phoff : e32.e_phoff;
		int phnum = wide ? e64.e_phnum : e32.e_phnum, phentsize = wide ? e64.e_phentsize : e32.e_phentsize;
		for (int i = 0; i < phnum; i++) {
			uint64_t type, offset, filesz;
			if (wide) {
				Elf64_Phdr ph;
				if (pread(fd, &ph, sizeof(ph), (off_t)(phoff + (uint64_t)i * phentsize)) != sizeof(ph))
					break;
				type = ph.p_type, offset = ph.p_offset, filesz = ph.p_filesz;
			} else {
				Elf32_Phdr ph;
				if (pread(fd, &ph, sizeof(ph), (off_t)(phoff + (uint64_t)i * phentsize)) != sizeof(ph))
					break;
				type = ph.p_type, offset = ph.p_offset, filesz = ph.p_filesz;
			}
			if (type != PT_INTERP || filesz == 0 || filesz >= size)
				continue;
			if (pread(fd, out, filesz, (off_t)offset) != (ssize_t)filesz)
				out[0] = '\0';
			else
				out[filesz - 1] = '\0';
			*kind = "ELF interpreter";
			break;
		}
	}
	close(fd);
}

// look_path finds the command the way lookPath in process_linux.go does (rootfs.LookPath
// with the root at "/"): a name with a slash as it is, a bare one in the directories of
// search, and checks that its interpreter is there too.
static void look_path(const char *command, const char *search, char *out, size_t size)
{
	char dirs[8192];
	snprintf(dirs, sizeof(dirs), "%s", *search ? search : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	int bare = strchr(command, '/') == NULL;
	char *save = NULL, *dir = bare ? strtok_r(dirs, ":", &save) : NULL;
	for (;;) {
		char candidate[PATH_MAX];
		if (bare) {
			if (dir == NULL)
				break;
			if (*dir == '\0') {
				dir = strtok_r(NULL, ":", &save);
				continue;
			}
			// Every candidate is taken from the root, as rootfs.LookPath takes it.
			snprintf(candidate, sizeof(candidate), "%s%s/%s", *dir == '/' ? "" : "/", dir, command);
		} else {
			snprintf(candidate, sizeof(candidate), "%s%s", *command == '/' ? "" : "/", command);
		}
		struct stat st;
		if (stat_inside(candidate, &st) == 0 && !S_ISDIR(st.st_mode)) {
			if ((st.st_mode & 0111) == 0)
				die(EXIT_NOT_RUNNABLE, "exec: \"%s\": permission denied: %s in / is not executable: cannot be run", command, candidate);
			char interp[PATH_MAX];
			const char *kind = "";
			interpreter(candidate, interp, sizeof(interp), &kind);
			if (interp[0] != '\0' && stat_inside(interp, &st) < 0)
				die(EXIT_NOT_FOUND, "exec: \"%s\": executable file not found in $PATH: %s in / needs its %s %s, which is not found there (copy it in with its libraries)", command, candidate, kind, interp);
			snprintf(out, size, "%s", candidate);
			return;
		}
		if (!bare)
			break;
		dir = strtok_r(NULL, ":", &save);
	}
	if (bare)
		die(EXIT_NOT_FOUND, "exec: \"%s\": executable file not found in $PATH: %s is not found in / (searched %s)", command, command, *search ? search : "the default PATH");
	die(EXIT_NOT_FOUND, "exec: \"%s\": executable file not found in $PATH: %s is not found in /", command, command);
}

// wait_for_hooks tells the runtime the mounts are made and waits while it runs the
// prestart and createRuntime hooks (the "hooks" and "resume" messages of the Go init).
static void wait_for_hooks(void)
{
	static const char msg[] = "{\"type\":\"hooks\"}\n";
	write_all(sock, msg, sizeof(msg) - 1);
	char line[4096];
	size_t n = 0;
	for (;;) {
		char c;
		ssize_t r = read(sock, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			errno = r == 0 ? EPIPE : errno;
			fail("wait for the runtime's createRuntime hooks");
		}
		if (c == '\n')
			break;
		if (n < sizeof(line) - 1)
			line[n++] = c;
	}
	line[n] = '\0';
	if (strstr(line, "\"type\":\"resume\"") == NULL)
		die(EXIT_SETUP, "wait for the runtime's createRuntime hooks: got %s", line);
}

static void say_ready(void)
{
	static const char msg[] = "{\"type\":\"ready\"}\n";
	write_all(sock, msg, sizeof(msg) - 1);
	ready = 1;
}

// wait_for_start blocks until `start` writes its byte into the exec fifo (waitForStart).
static void wait_for_start(int fifo)
{
	char c;
	for (;;) {
		ssize_t n = read(fifo, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n != 1)
			fail("wait for start on the exec fifo");
		return;
	}
}

void labs_cinit(int sync_fd)
{
	sock = sync_fd;
	// The name ps shows until execve, as the Go init's.
	prctl(PR_SET_NAME, "labs-runc:init", 0, 0, 0);
	int count;
	struct step *steps = read_program(&count);
	char path[PATH_MAX] = "";
	char **argv = NULL, **envp = NULL;
	for (int i = 0; i < count; i++) {
		struct step *s = &steps[i];
		const char *op = s->f[0].s;
		if (strcmp(op, "cgroupns") == 0) {
			if (unshare(CLONE_NEWCGROUP) < 0)
				fail("unshare the cgroup namespace");
		} else if (strcmp(op, "propagate") == 0) {
			do_mount(NULL, s->f[1].s, NULL, num(s->f[2].s), NULL);
		} else if (strcmp(op, "root") == 0) {
			// pivot_root needs the new root to be a mount point; the bind makes it one.
			snprintf(root_path, sizeof(root_path), "%s", s->f[1].s);
			do_mount(root_path, root_path, NULL, MS_BIND | MS_REC, NULL);
			if (chdir(root_path) < 0)
				fail("enter the container's root");
			root_fd = open(root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
			if (root_fd < 0)
				fail("open the root %s", root_path);
		} else if (strcmp(op, "procfiles") == 0) {
			for (int j = 1; j < s->nfields && nproc_files < 32; j++)
				snprintf(proc_files[nproc_files++], PATH_MAX, "%s", s->f[j].s);
		} else if (strcmp(op, "mount") == 0) {
			mount_one(s);
		} else if (strcmp(op, "device") == 0) {
			make_device(s);
		} else if (strcmp(op, "devlink") == 0) {
			make_dev_link(s);
		} else if (strcmp(op, "hooks") == 0) {
			wait_for_hooks();
		} else if (strcmp(op, "pivot") == 0) {
			close(root_fd);
			root_fd = -1;
			pivot(s);
		} else if (strcmp(op, "remount") == 0) {
			remount(s->f[1].s, num(s->f[2].s));
		} else if (strcmp(op, "hostname") == 0) {
			if (sethostname(s->f[1].s, s->f[1].n) < 0)
				fail("set hostname %s", s->f[1].s);
		} else if (strcmp(op, "domainname") == 0) {
			if (setdomainname(s->f[1].s, s->f[1].n) < 0)
				fail("set domain name \"%s\"", s->f[1].s);
		} else if (strcmp(op, "sysctl") == 0) {
			char what[PATH_MAX];
			snprintf(what, sizeof(what), "sysctl %s=%s", s->f[1].s, s->f[3].s);
			write_file(s->f[2].s, s->f[3].s, what);
		} else if (strcmp(op, "readonly") == 0) {
			readonly(s->f[1].s);
		} else if (strcmp(op, "mask") == 0) {
			mask(s->f[1].s);
		} else if (strcmp(op, "keyring") == 0) {
			// Keys are not namespaced: a session keyring of the container's own.
			if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, s->f[1].s) < 0 && errno != ENOSYS)
				fail("make a session keyring");
		} else if (strcmp(op, "ioprio") == 0) {
			if (syscall(SYS_ioprio_set, 1, 0, (int)num(s->f[1].s)) < 0)
				fail("set IO priority %s", s->f[2].s);
		} else if (strcmp(op, "cloexec") == 0) {
			if (syscall(SYS_close_range, (unsigned)num(s->f[1].s), ~0U, CLOSE_RANGE_CLOEXEC) < 0)
				fail("mark the runtime's descriptors close-on-exec");
		} else if (strcmp(op, "cwd") == 0) {
			enter_cwd(s->f[1].s, 1);
		} else if (strcmp(op, "cwd-again") == 0) {
			if (cwd_deferred)
				enter_cwd(s->f[1].s, 0);
		} else if (strcmp(op, "nnp") == 0) {
			if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
				fail("set no_new_privs");
		} else if (strcmp(op, "seccomp") == 0) {
			load_seccomp(s);
		} else if (strcmp(op, "user") == 0) {
			set_user(s);
		} else if (strcmp(op, "caps") == 0) {
			set_caps(s);
		} else if (strcmp(op, "lookpath") == 0) {
			look_path(s->f[1].s, s->f[2].s, path, sizeof(path));
		} else if (strcmp(op, "ready") == 0) {
			say_ready();
		} else if (strcmp(op, "wait-start") == 0) {
			wait_for_start((int)num(s->f[1].s));
		} else if (strcmp(op, "rlimit") == 0) {
			struct rlimit rl = {.rlim_cur = strtoull(s->f[2].s, NULL, 0), .rlim_max = strtoull(s->f[3].s, NULL, 0)};
			if (setrlimit((int)num(s->f[1].s), &rl) < 0)
				fail("set %s to %s:%s", s->f[4].s, s->f[2].s, s->f[3].s);
		} else if (strcmp(op, "argv") == 0 || strcmp(op, "env") == 0) {
			char **v = calloc(s->nfields, sizeof(char *));
			if (v == NULL)
				fail("allocate the command line");
			for (int j = 1; j < s->nfields; j++)
				v[j - 1] = s->f[j].s;
			if (op[0] == 'a')
				argv = v;
			else
				envp = v;
		} else if (strcmp(op, "exec") == 0) {
			execve(path, argv, envp);
			fail("exec %s", path);
		} else {
			die(EXIT_SETUP, "init program: unknown step %s", op);
		}
	}
	die(EXIT_SETUP, "init program: ended without exec");
}
