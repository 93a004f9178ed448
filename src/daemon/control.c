/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/control.h"

static int fill_addr(const char *path, struct sockaddr_un *sa) {
        memset(sa, 0, sizeof(*sa));
        sa->sun_family = AF_UNIX;
        if (strlen(path) >= sizeof(sa->sun_path))
                return -ENAMETOOLONG;
        strcpy(sa->sun_path, path);
        return 0;
}

int closer_control_listen(const char *path) {
        struct sockaddr_un sa;
        int r = fill_addr(path, &sa);
        if (r < 0)
                return r;
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        (void) unlink(path);
        /* 0600 from the start: no window where another user could connect */
        mode_t old = umask(0177);
        r = bind(fd, (struct sockaddr *) &sa, sizeof(sa));
        umask(old);
        if (r < 0 || listen(fd, 16) < 0) {
                r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

/* Read until a newline or EOF, at most max bytes, waiting at most
 * timeout_ms in total for a slow peer. */
static int read_line(int fd, char *buf, size_t max, int timeout_ms) {
        size_t len = 0;
        while (len < max - 1) {
                struct pollfd p = {.fd = fd, .events = POLLIN};
                int n = poll(&p, 1, timeout_ms);
                if (n == 0)
                        return -ETIMEDOUT;
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                ssize_t k = read(fd, buf + len, max - 1 - len);
                if (k < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                len += (size_t) k;
                if (memchr(buf + len - (size_t) k, '\n', (size_t) k))
                        break;
        }
        if (len >= max - 1)
                return -EMSGSIZE;
        buf[len] = '\0';
        return (int) len;
}

/* send(MSG_NOSIGNAL): a peer that hung up is -EPIPE for this connection,
 * not a SIGPIPE that kills the daemon (or closerctl). */
static int write_all(int fd, const char *s, size_t len) {
        while (len > 0) {
                ssize_t k = send(fd, s, len, MSG_NOSIGNAL);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN) {
                                struct pollfd p = {.fd = fd, .events = POLLOUT};
                                if (poll(&p, 1, 1000) <= 0)
                                        return -ETIMEDOUT;
                                continue;
                        }
                        return -errno;
                }
                s += k;
                len -= (size_t) k;
        }
        return 0;
}

static int send_json(int fd, json_t *o) {
        char *s = json_dumps(o, JSON_COMPACT);
        if (!s)
                return -ENOMEM;
        int r = write_all(fd, s, strlen(s));
        if (r == 0)
                r = write_all(fd, "\n", 1);
        free(s);
        return r;
}

static json_t *error_answer(const char *msg) {
        return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

int closer_control_serve_one(int listen_fd, uid_t allowed_uid, closer_control_handler handler, void *userdata) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
                return errno == EAGAIN ? 0 : -errno;

        struct ucred cred;
        socklen_t len = sizeof(cred);
        json_t *answer = NULL;
        char *buf = NULL;
        int r = 0;

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
            (cred.uid != 0 && cred.uid != allowed_uid)) {
                answer = error_answer("permission denied: closerd answers root only");
                goto reply;
        }
        buf = malloc(CLOSER_CONTROL_MAX + 1);
        if (!buf) {
                r = -ENOMEM;
                goto out;
        }
        r = read_line(fd, buf, CLOSER_CONTROL_MAX + 1, 2000);
        if (r < 0) {
                answer = error_answer(r == -EMSGSIZE ? "request too large" : "could not read the request");
                goto reply;
        }
        json_error_t jerr;
        json_t *req = json_loads(buf, JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES, &jerr);
        if (!req || !json_is_object(req)) {
                json_decref(req);
                answer = error_answer("malformed request: expected one JSON object on one line");
                goto reply;
        }
        answer = handler(userdata, req);
        json_decref(req);
reply:
        if (answer)
                r = send_json(fd, answer);
out:
        json_decref(answer);
        free(buf);
        close(fd);
        return r;
}

int closer_control_call(const char *path, const json_t *request, json_t **ret) {
        struct sockaddr_un sa;
        int r = fill_addr(path, &sa);
        if (r < 0)
                return r;
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                r = -errno;
                close(fd);
                return r;
        }
        r = send_json(fd, (json_t *) request);
        /* The daemon may answer and close before reading all of it (a
         * refused peer): its answer is still there to read. */
        if (r < 0 && r != -EPIPE) {
                close(fd);
                return r;
        }
        r = 0;
        /* answers (a snapshot of a big host) can be large: read to EOF */
        size_t cap = 1 << 16, len = 0;
        char *buf = malloc(cap);
        if (!buf) {
                close(fd);
                return -ENOMEM;
        }
        for (;;) {
                if (len + 1 >= cap) {
                        if (cap >= (256u << 20)) {
                                r = -EMSGSIZE;
                                break;
                        }
                        char *nb = realloc(buf, cap * 2);
                        if (!nb) {
                                r = -ENOMEM;
                                break;
                        }
                        buf = nb;
                        cap *= 2;
                }
                ssize_t k = read(fd, buf + len, cap - 1 - len);
                if (k < 0 && errno == EINTR)
                        continue;
                /* A daemon that refused us closed with our request unread:
                 * Linux then reports ECONNRESET after its answer instead of
                 * EOF. The answer is complete if it parses. */
                if (k < 0 && errno == ECONNRESET && len > 0)
                        break;
                if (k < 0) {
                        r = -errno;
                        break;
                }
                if (k == 0)
                        break;
                len += (size_t) k;
        }
        close(fd);
        if (r < 0) {
                free(buf);
                return r;
        }
        buf[len] = '\0';
        json_error_t jerr;
        json_t *ans = json_loads(buf, JSON_DISABLE_EOF_CHECK, &jerr);
        free(buf);
        if (!ans || !json_is_object(ans)) {
                json_decref(ans);
                return -EPROTO;
        }
        *ret = ans;
        return 0;
}
