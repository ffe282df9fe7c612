// The idle monitor: what stays with a detached container once the Go monitor has set it up.
// It runs as a constructor, before the Go runtime starts, and never returns to Go: it copies
// the container's output into the json-file log, serves the attach socket, starts the
// health check's process on schedule, reaps children until the container's init exits, and
// then executes the program again as the Go clean-up. See doc.go for why and for the
// arguments.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

// A log entry holds at most CHUNK bytes of output, as Docker's json-file driver splits long
// lines: a line longer than that is logged as several entries, the last one ending in '\n'.
#define CHUNK 16384
#define MAX_CLIENTS 16
#define CLIENT_BUF 4096
#define PATH_LEN 4096

struct stream {
	int fd;
	const char *name; // "stdout" or "stderr", the log's stream
	char id;          // 1 or 2, the attach frame's stream
	size_t len;       // bytes of an unfinished line in partial
	char partial[CHUNK];
};

// A client of the attach socket. Until it has sent its hello line it gets no output; after
// it, what it sends goes to the container's standard input. A client whose input the
// container is not reading yet keeps it in pending and is not read further meanwhile.
struct client {
	int fd;
	int greeted;
	size_t hello_len;
	char hello[256];
	size_t pending_off, pending_len;
	char pending[CLIENT_BUF];
};

static struct stream streams[2];
static struct client clients[MAX_CLIENTS];
static int input_fd = -1;  // the container's stdin pipe or terminal master, or -1
static int listen_fd = -1; // the attach socket
static int tty;
static long long max_size;
static int max_file;
static char log_path[PATH_LEN];
static char socket_path[PATH_LEN];
static int log_fd = -1;
static long long log_size;
// The health check: every health_interval nanoseconds after the last check ended, a process
// (PROGRAM container-health ID) runs one and records its result; probe is its PID while it
// runs. 0 means the container has no health check.
static long long health_interval;
static pid_t probe;
static struct timespec next_check;
// An entry: each byte of output becomes at most 6 bytes of JSON (\u00XX).
static char entry[CHUNK * 6 + 128];

static void die(const char *what)
{
	dprintf(2, "idle monitor: %s: %s\n", what, strerror(errno));
	_exit(125);
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= w;
	}
	return 0;
}

// --- the json-file log, written as labs/engine/logs.go writes it ---

static int open_log(void)
{
	struct stat st;
	log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (log_fd < 0)
		return -1;
	log_size = fstat(log_fd, &st) == 0 ? st.st_size : 0;
	return 0;
}

// rotate shifts container.log.N-1 to .N, down to container.log itself, dropping the oldest.
static void rotate(void)
{
	char from[PATH_LEN + 16], to[PATH_LEN + 16];
	close(log_fd);
	for (int i = max_file - 1; i >= 1; i--) {
		if (i > 1)
			snprintf(from, sizeof(from), "%s.%d", log_path, i - 1);
		else
			snprintf(from, sizeof(from), "%s", log_path);
		snprintf(to, sizeof(to), "%s.%d", log_path, i);
		rename(from, to);
	}
	if (max_file == 1)
		unlink(log_path);
	open_log();
}

// utf8_len returns the length of the valid UTF-8 sequence at s, or 0 if it is not one: the
// rules of Go's unicode/utf8 (no overlong forms, no surrogates, nothing above U+10FFFF).
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xBF;
	size_t len;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		if (c == 0xE0)
			lo = 0xA0;
		if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		if (c == 0xF0)
			lo = 0x90;
		if (c == 0xF4)
			hi = 0x8F;
	} else
		return 0;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return len;
}

// escape writes s as the inside of a JSON string, byte for byte as Go's encoding/json does:
// \" \\ \n \r \t \b \f, \u00XX for other control characters and for < > & (HTML-safe),
// \u2028 and \u2029, and \ufffd for each byte that is not part of valid UTF-8.
static size_t escape(char *dst, const unsigned char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		if (c < 0x80) {
			const char *short_form = NULL;
			switch (c) {
			case '"': short_form = "\\\""; break;
			case '\\': short_form = "\\\\"; break;
			case '\n': short_form = "\\n"; break;
			case '\r': short_form = "\\r"; break;
			case '\t': short_form = "\\t"; break;
			case '\b': short_form = "\\b"; break;
			case '\f': short_form = "\\f"; break;
			}
			if (short_form) {
				dst[o++] = short_form[0];
				dst[o++] = short_form[1];
			} else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
				memcpy(dst + o, "\\u00", 4);
				dst[o + 4] = hex[c >> 4];
				dst[o + 5] = hex[c & 0xF];
				o += 6;
			} else
				dst[o++] = c;
			i++;
			continue;
		}
		size_t len = utf8_len(s + i, n - i);
		if (len == 0) {
			memcpy(dst + o, "\\ufffd", 6);
			o += 6;
			i++;
			continue;
		}
		if (len == 3 && c == 0xE2 && s[i + 1] == 0x80 && (s[i + 2] == 0xA8 || s[i + 2] == 0xA9)) {
			memcpy(dst + o, s[i + 2] == 0xA8 ? "\\u2028" : "\\u2029", 6);
			o += 6;
		} else {
			memcpy(dst + o, s + i, len);
			o += len;
		}
		i += len;
	}
	return o;
}

// timestamp writes the time as Go's time.Time marshals to JSON (RFC 3339 with nanoseconds,
// trailing zeros dropped), in UTC.
static size_t timestamp(char *dst)
{
	struct timespec now;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	int o = sprintf(dst, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (now.tv_nsec != 0) {
		o += sprintf(dst + o, ".%09ld", now.tv_nsec);
		while (dst[o - 1] == '0')
			o--;
	}
	dst[o++] = 'Z';
	return o;
}

// log_entry appends one entry, rotating first if it would overflow the file.
static void log_entry(struct stream *s, const char *p, size_t n)
{
	size_t o = 0;
	o += sprintf(entry, "{\"log\":\"");
	o += escape(entry + o, (const unsigned char *)p, n);
	o += sprintf(entry + o, "\",\"stream\":\"%s\",\"time\":\"", s->name);
	o += timestamp(entry + o);
	memcpy(entry + o, "\"}\n", 3);
	o += 3;
	if (log_fd < 0 && open_log() < 0)
		return;
	if (log_size > 0 && log_size + (long long)o > max_size)
		rotate();
	if (log_fd >= 0 && write_all(log_fd, entry, o) == 0)
		log_size += o;
}

// utf8_cut returns where to end an entry of the n bytes at p so that the last UTF-8
// sequence is not cut in two: before the lead byte of a sequence that is still incomplete.
// (Docker's json-file cuts anywhere, and a character split there becomes two U+FFFD.)
static size_t utf8_cut(const unsigned char *p, size_t n)
{
	for (size_t back = 1; back <= 3 && back <= n; back++) {
		unsigned char c = p[n - back];
		if ((c & 0xC0) == 0x80)
			continue; // a continuation byte: look further back for the lead
		size_t want = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
		return want > back ? n - back : n;
	}
	return n;
}

// log_output logs output one line an entry, keeping an unfinished line for later.
static void log_output(struct stream *s, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		s->partial[s->len++] = p[i];
		if (p[i] == '\n') {
			log_entry(s, s->partial, s->len);
			s->len = 0;
		} else if (s->len == CHUNK) {
			size_t cut = utf8_cut((const unsigned char *)s->partial, CHUNK);
			log_entry(s, s->partial, cut);
			s->len = CHUNK - cut;
			memmove(s->partial, s->partial + cut, s->len);
		}
	}
}

// --- the attach socket, served as labs/engine/attach_linux.go serves it ---

static void drop_client(struct client *c)
{
	close(c->fd);
	c->fd = -1;
}

// send_output sends output to every greeted client: framed (stream, three zero bytes,
// big-endian length) without a terminal, as it is with one. A client that cannot take it
// within a second (SO_SNDTIMEO) is dropped.
static void send_output(struct stream *s, const char *p, size_t n)
{
	unsigned char header[8] = {(unsigned char)s->id, 0, 0, 0, n >> 24, n >> 16, n >> 8, n};
	for (int i = 0; i < MAX_CLIENTS; i++) {
		struct client *c = &clients[i];
		if (c->fd < 0 || !c->greeted)
			continue;
		struct iovec iov[2] = {{header, 8}, {(void *)p, n}};
		struct msghdr msg = {.msg_iov = tty ? iov + 1 : iov, .msg_iovlen = tty ? 1 : 2};
		while (msg.msg_iovlen > 0) {
			ssize_t w = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				drop_client(c);
				break;
			}
			while (msg.msg_iovlen > 0 && (size_t)w >= msg.msg_iov->iov_len) {
				w -= msg.msg_iov->iov_len;
				msg.msg_iov++;
				msg.msg_iovlen--;
			}
			if (msg.msg_iovlen > 0) {
				msg.msg_iov->iov_base = (char *)msg.msg_iov->iov_base + w;
				msg.msg_iov->iov_len -= w;
			}
		}
	}
}

static void accept_client(void)
{
	int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	for (int i = 0; i < MAX_CLIENTS; i++) {
		if (clients[i].fd < 0) {
			struct timeval second = {1, 0};
			setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &second, sizeof(second));
			clients[i] = (struct client){.fd = fd};
			return;
		}
	}
	close(fd);
}

// number_after returns the number that follows key in the hello line ({"rows":R,"cols":C}).
static unsigned number_after(const char *hello, const char *key)
{
	const char *p = strstr(hello, key);
	return p ? (unsigned)strtoul(p + strlen(key), NULL, 10) : 0;
}

// forward passes a client's input on to the container, keeping what does not fit now.
static void forward(struct client *c, const char *p, size_t n)
{
	if (input_fd < 0)
		return;
	while (n > 0) {
		ssize_t w = write(input_fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			memcpy(c->pending, p, n);
			c->pending_len = n;
			c->pending_off = 0;
			return;
		}
		if (w < 0)
			return; // the container closed its input: what the client sends is lost
		p += w;
		n -= w;
	}
}

static void flush_pending(struct client *c)
{
	size_t n = c->pending_len;
	c->pending_len = 0;
	char *p = c->pending + c->pending_off;
	ssize_t w = write(input_fd, p, n);
	if (w < 0 && errno == EAGAIN)
		w = 0;
	if (w < 0)
		return;
	c->pending_off += w;
	c->pending_len = n - w;
	if (c->pending_len > 0)
		memmove(c->pending, c->pending + c->pending_off, c->pending_len);
	c->pending_off = 0;
}

static void read_client(struct client *c)
{
	char buf[CLIENT_BUF];
	ssize_t n = read(c->fd, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		drop_client(c);
		return;
	}
	if (c->greeted) {
		forward(c, buf, n);
		return;
	}
	char *nl = memchr(buf, '\n', n);
	size_t take = nl ? (size_t)(nl - buf) : (size_t)n;
	if (c->hello_len + take >= sizeof(c->hello) || (c->hello_len == 0 && buf[0] != '{')) {
		drop_client(c);
		return;
	}
	memcpy(c->hello + c->hello_len, buf, take);
	c->hello_len += take;
	if (!nl)
		return;
	c->hello[c->hello_len] = 0;
	c->greeted = 1;
	unsigned rows = number_after(c->hello, "\"rows\":"), cols = number_after(c->hello, "\"cols\":");
	if (tty && rows > 0 && cols > 0) {
		struct winsize ws = {.ws_row = rows, .ws_col = cols};
		ioctl(streams[0].fd, TIOCSWINSZ, &ws);
	}
	forward(c, nl + 1, n - take - 1);
}

// --- the container's output ---

// read_output copies what the container wrote to the attach clients and the log. It
// returns 0 at the end of the stream: every writer closed the pipe, or the terminal's last
// holder closed it (EIO on the master end).
static int read_output(struct stream *s)
{
	char buf[CHUNK];
	ssize_t n = read(s->fd, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 1;
	if (n <= 0) {
		if (s->len > 0)
			log_entry(s, s->partial, s->len);
		s->len = 0;
		if (input_fd == s->fd)
			input_fd = -1; // the terminal's master end was also the input
		close(s->fd);
		s->fd = -1;
		return 0;
	}
	send_output(s, buf, n);
	log_output(s, buf, n);
	return 1;
}

// --- the loop ---

static int arg_int(const char *arg, const char *key, long long *v)
{
	size_t k = strlen(key);
	if (strncmp(arg, key, k) != 0 || arg[k] != '=')
		return 0;
	*v = strtoll(arg + k + 1, NULL, 10);
	return 1;
}

static int compare_ints(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

// close_others closes every descriptor above 2 but the ones handed over: whatever else the
// Go monitor had open without FD_CLOEXEC (a pipe held open here would keep its reader
// waiting for an end-of-file as long as the container runs).
static void close_others(void)
{
	int keep[] = {streams[0].fd, streams[1].fd, input_fd, listen_fd, 2};
	int n = sizeof(keep) / sizeof(keep[0]);
	qsort(keep, n, sizeof(int), compare_ints);
	unsigned first = 3;
	for (int i = 0; i < n; i++) {
		if (keep[i] < (int)first)
			continue;
		if ((unsigned)keep[i] > first)
			close_range(first, keep[i] - 1, 0);
		first = keep[i] + 1;
	}
	close_range(first, ~0U, 0);
}

static long long now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void schedule_check(void)
{
	long long at = now_ns() + health_interval;
	next_check = (struct timespec){.tv_sec = at / 1000000000LL, .tv_nsec = at % 1000000000LL};
}

// check_timeout is poll's timeout until the next health check is due, in milliseconds (-1:
// no check to wait for; 0: due now).
static int check_timeout(void)
{
	if (health_interval <= 0 || probe > 0)
		return -1;
	long long left = next_check.tv_sec * 1000000000LL + next_check.tv_nsec - now_ns();
	if (left <= 0)
		return 0;
	long long ms = (left + 999999) / 1000000;
	return ms > 1000000 ? 1000000 : (int)ms;
}

// start_check starts the health check's process, with this process's standard streams
// (/dev/null) and none of its other descriptors (all are close-on-exec).
static void start_check(const char *program, const char *id, char **envp)
{
	pid_t pid = fork();
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		char *args[] = {(char *)program, "container-health", (char *)id, NULL};
		execve("/proc/self/exe", args, envp);
		_exit(127);
	}
	if (pid > 0)
		probe = pid;
	else
		schedule_check(); // try again next time
}

static void nonblocking(int fd)
{
	if (fd < 0)
		return;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	// The clean-up that follows this program must not inherit the container's streams.
	fcntl(fd, F_SETFD, FD_CLOEXEC);
}

__attribute__((constructor)) static void idle_monitor(int argc, char **argv, char **envp)
{
	if (argc < 4 || strcmp(argv[1], "container-monitor") != 0 || strcmp(argv[3], "idle") != 0)
		return;
	long long init = 0, v;
	const char *dir = NULL;
	streams[0] = (struct stream){.fd = -1, .name = "stdout", .id = 1};
	streams[1] = (struct stream){.fd = -1, .name = "stderr", .id = 2};
	for (int i = 0; i < MAX_CLIENTS; i++)
		clients[i].fd = -1;
	for (int i = 4; i < argc; i++) {
		const char *a = argv[i];
		if (arg_int(a, "pid", &v))
			init = v;
		else if (arg_int(a, "stdout", &v))
			streams[0].fd = v;
		else if (arg_int(a, "stderr", &v))
			streams[1].fd = v;
		else if (arg_int(a, "input", &v))
			input_fd = v;
		else if (arg_int(a, "attach", &v))
			listen_fd = v;
		else if (arg_int(a, "tty", &v))
			tty = v;
		else if (arg_int(a, "max-size", &v))
			max_size = v;
		else if (arg_int(a, "max-file", &v))
			max_file = v;
		else if (arg_int(a, "health-interval", &v))
			health_interval = v;
		else if (strncmp(a, "dir=", 4) == 0)
			dir = a + 4;
	}
	if (init <= 0 || dir == NULL || max_size <= 0 || max_file <= 0) {
		errno = EINVAL;
		die("arguments");
	}
	close_others();
	snprintf(log_path, sizeof(log_path), "%s/logs/container.log", dir);
	snprintf(socket_path, sizeof(socket_path), "%s/attach.sock", dir);
	nonblocking(streams[0].fd);
	nonblocking(streams[1].fd);
	nonblocking(listen_fd);
	if (input_fd != streams[0].fd)
		nonblocking(input_fd);
	signal(SIGPIPE, SIG_IGN);
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	int sig_fd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sig_fd < 0)
		die("signalfd");
	open_log();
	if (health_interval > 0)
		schedule_check();

	int status = 0, exited = 0, not_ours = 0;
	for (;;) {
		// Reap whatever ended (we are a subreaper: orphans of the container come to us). A
		// SIGCHLD from before this loop began is covered, as the first pass reaps too.
		struct signalfd_siginfo si;
		while (read(sig_fd, &si, sizeof(si)) > 0)
			;
		for (;;) {
			int ws;
			pid_t pid = waitpid(-1, &ws, WNOHANG);
			if (pid < 0 && errno == ECHILD && !exited)
				not_ours = 1;
			if (pid <= 0)
				break;
			if (pid == init)
				status = ws, exited = 1;
			if (pid == probe)
				probe = 0, schedule_check();
		}
		// Not our child (it cannot happen while the subreaper flag holds): watch it by PID.
		if (not_ours && !exited && kill(init, 0) < 0)
			status = 255 << 8, exited = 1;
		// The output may still be in the pipes when the init ends: it is copied out first.
		if (exited && streams[0].fd < 0 && streams[1].fd < 0)
			break;

		struct pollfd fds[3 + MAX_CLIENTS + 1];
		struct client *of[3 + MAX_CLIENTS + 1];
		int n = 0, waiting = 0;
		fds[n++] = (struct pollfd){.fd = sig_fd, .events = POLLIN};
		fds[n++] = (struct pollfd){.fd = streams[0].fd, .events = POLLIN};
		fds[n++] = (struct pollfd){.fd = streams[1].fd, .events = POLLIN};
		fds[n++] = (struct pollfd){.fd = listen_fd, .events = POLLIN};
		for (int i = 0; i < MAX_CLIENTS; i++) {
			if (clients[i].fd < 0)
				continue;
			of[n] = &clients[i];
			if (clients[i].pending_len > 0)
				waiting = 1, fds[n++] = (struct pollfd){.fd = -1};
			else
				fds[n++] = (struct pollfd){.fd = clients[i].fd, .events = POLLIN};
		}
		int input_slot = n;
		fds[n++] = (struct pollfd){.fd = waiting ? input_fd : -1, .events = POLLOUT};
		int timeout = exited ? -1 : check_timeout();
		if (timeout == 0) {
			start_check(argv[0], argv[2], envp);
			timeout = -1;
		}
		if (not_ours && (timeout < 0 || timeout > 100))
			timeout = 100;
		if (poll(fds, n, timeout) < 0 && errno != EINTR)
			die("poll");
		for (int s = 0; s < 2; s++)
			if (fds[1 + s].revents)
				read_output(&streams[s]);
		if (fds[3].revents)
			accept_client();
		for (int i = 4; i < input_slot; i++)
			if (fds[i].revents && of[i]->fd >= 0)
				read_client(of[i]);
		if (fds[input_slot].revents)
			for (int i = 0; i < MAX_CLIENTS; i++)
				if (clients[i].fd >= 0 && clients[i].pending_len > 0)
					flush_pending(&clients[i]);
	}

	// A check that still runs says nothing about a container that has ended.
	if (probe > 0) {
		kill(probe, SIGKILL);
		waitpid(probe, NULL, 0);
	}

	// The container has ended: its attach clients see their connection end, the socket goes.
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (clients[i].fd >= 0)
			drop_client(&clients[i]);
	if (listen_fd >= 0) {
		close(listen_fd);
		unlink(socket_path);
	}
	if (input_fd >= 0)
		close(input_fd);
	if (log_fd >= 0)
		close(log_fd);
	close(sig_fd);

	// The Go clean-up undoes the set-up and records the exit. It starts with this process's
	// signal handling as a program expects it.
	char code[16];
	snprintf(code, sizeof(code), "%d", status);
	sigprocmask(SIG_UNBLOCK, &chld, NULL);
	signal(SIGPIPE, SIG_DFL);
	char *cleanup[] = {argv[0], "container-cleanup", argv[2], code, NULL};
	execve("/proc/self/exe", cleanup, envp);
	die("execute the clean-up");
}
