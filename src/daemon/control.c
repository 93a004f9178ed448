/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The control socket, both sides (protocol in control.h). The server is a
 * set of non-blocking clients in the daemon's sd-event loop: one silent,
 * slow or greedy client costs its own connection, never a tick or a signal.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "basic/alloc-util.h"
#include "closer/utf8.h"
#include "daemon/control.h"

/* Event priority of the control socket: below the daemon's own sources
 * (ticks, signals, hypervisor events at the default 0), so that clients are
 * served in the time left over. */
#define CONTROL_PRIORITY (SD_EVENT_PRIORITY_NORMAL + 10)
/* Accepted per wake-up: a flood of connections cannot keep the loop here. */
#define ACCEPT_BURST 32

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
        struct stat st;
        int r = fill_addr(path, &sa);
        if (r < 0)
                return r;
        /* Only a socket (an earlier daemon's) is ours to replace: a typo in
         * --socket must not delete someone's file. */
        if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
                return -EEXIST;
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

/* ---- server ------------------------------------------------------------- */

typedef struct client client;

struct closer_control_server {
        sd_event *ev;
        sd_event_source *listen_src;
        uid_t allowed_uid;
        closer_control_handler handler;
        void *userdata;
        uint64_t request_usec, idle_usec;
        client *clients;
        unsigned n_clients;
};

struct client {
        closer_control_server *srv;
        client *prev, *next;
        int fd;
        sd_event_source *io, *timer;
        bool answering;                 /* the request is read; writing the answer */
        char *in;
        size_t in_len;
        char *out;                      /* bytes still to send: out[out_off, out_len) */
        size_t out_len, out_off, out_cap;
        bool working;                   /* work.step still to be called */
        closer_control_work work;
};

static void client_free(client *c) {
        closer_control_server *s = c->srv;
        if (c->prev)
                c->prev->next = c->next;
        else
                s->clients = c->next;
        if (c->next)
                c->next->prev = c->prev;
        s->n_clients--;
        sd_event_source_disable_unref(c->io);
        sd_event_source_disable_unref(c->timer);
        if (c->work.free)
                c->work.free(c->work.state);
        close(c->fd);
        free(c->in);
        free(c->out);
        free(c);
}

static int out_reserve(client *c, size_t more) {
        if (more > SIZE_MAX - c->out_len || !GREEDY_REALLOC_MIN(c->out, c->out_cap, c->out_len + more, 4096))
                return -ENOMEM;
        return 0;
}

static int out_append(client *c, const char *s, size_t len) {
        int r = out_reserve(c, len);
        if (r < 0)
                return r;
        memcpy(c->out + c->out_len, s, len);
        c->out_len += len;
        return 0;
}

/* Raw bytes as the inside of a JSON string: valid UTF-8 in, the same out
 * with quotes, backslashes and control characters escaped; an invalid byte
 * becomes U+FFFD (the answer must stay valid JSON whatever the data). */
static int out_append_escaped(client *c, const char *data, size_t len) {
        const unsigned char *s = (const unsigned char *) data;
        /* at most 6 bytes out per byte in (\u00XX) */
        int r = out_reserve(c, len * 6 + 8);
        if (r < 0)
                return r;
        char *o = c->out + c->out_len;
        for (size_t i = 0; i < len;) {
                size_t n = closer_utf8_seq_len(s + i, len - i);
                unsigned char ch = s[i];
                if (n == 0) {
                        memcpy(o, "\\ufffd", 6);
                        o += 6;
                        i++;
                        continue;
                }
                if (n > 1) {
                        memcpy(o, s + i, n);
                        o += n;
                        i += n;
                        continue;
                }
                switch (ch) {
                case '"':
                        *o++ = '\\', *o++ = '"';
                        break;
                case '\\':
                        *o++ = '\\', *o++ = '\\';
                        break;
                case '\n':
                        *o++ = '\\', *o++ = 'n';
                        break;
                case '\r':
                        *o++ = '\\', *o++ = 'r';
                        break;
                case '\t':
                        *o++ = '\\', *o++ = 't';
                        break;
                default:
                        if (ch < 0x20) {
                                static const char hex[] = "0123456789abcdef";
                                memcpy(o, "\\u00", 4);
                                o[4] = hex[ch >> 4];
                                o[5] = hex[ch & 15];
                                o += 6;
                        } else
                                *o++ = (char) ch;
                }
                i++;
        }
        c->out_len = (size_t) (o - c->out);
        return 0;
}

static json_t *error_answer(const char *msg) {
        return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

static int out_append_json(client *c, json_t *answer) {
        char *s = answer ? json_dumps(answer, JSON_COMPACT) : NULL;
        if (!s)
                return -ENOMEM;
        int r = out_append(c, s, strlen(s));
        if (r >= 0)
                r = out_append(c, "\n", 1);
        free(s);
        return r;
}

/* An error answer to a connection we stop serving (refused, too many,
 * too slow): what fits in the socket buffer now, never a wait. */
static void answer_now(int fd, const char *msg) {
        json_t *a = error_answer(msg);
        char *s = a ? json_dumps(a, JSON_COMPACT) : NULL;
        if (s) {
                size_t len = strlen(s);
                s[len] = '\n';          /* json_dumps' NUL becomes the line end */
                (void) send(fd, s, len + 1, MSG_DONTWAIT | MSG_NOSIGNAL);
        }
        free(s);
        json_decref(a);
}

static void answer_and_close(int fd, const char *msg) {
        answer_now(fd, msg);
        close(fd);
}

static void arm_timer(client *c, uint64_t usec) {
        (void) sd_event_source_set_time_relative(c->timer, usec);
        (void) sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT);
}

static void finish_work(client *c) {
        if (c->work.free)
                c->work.free(c->work.state);
        c->work = (closer_control_work) {0};
        c->working = false;
}

/* From reading to writing: the answer (or its first part) is queued. */
static void start_answer(client *c, json_t *answer, const closer_control_work *work) {
        int r = 0;
        if (answer)
                r = out_append_json(c, answer);
        else if (work && work->step) {
                c->work = *work;
                c->working = true;
                if (work->stream_key) {
                        /* "ok" first, the long string last (control.h) */
                        json_t *key = json_string(work->stream_key);
                        char *k = key ? json_dumps(key, JSON_ENCODE_ANY) : NULL;
                        r = k ? out_append(c, "{\"ok\":true,", 11) : -ENOMEM;
                        if (r >= 0)
                                r = out_append(c, k, strlen(k));
                        if (r >= 0)
                                r = out_append(c, ":\"", 2);
                        free(k);
                        json_decref(key);
                }
        } else {
                json_t *e = error_answer("internal error: no answer");
                r = out_append_json(c, e);
                json_decref(e);
        }
        if (r < 0) {
                client_free(c);
                return;
        }
        c->answering = true;
        (void) sd_event_source_set_io_events(c->io, EPOLLOUT);
        arm_timer(c, c->srv->idle_usec);
}

static void handle_request(client *c) {
        json_error_t jerr;
        json_t *answer = NULL;
        closer_control_work work = {0};

        c->in[c->in_len] = '\0';
        json_t *req = json_loads(c->in, JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES, &jerr);
        if (!req || !json_is_object(req))
                answer = error_answer("malformed request: expected one JSON object on one line");
        else
                answer = c->srv->handler(c->srv->userdata, req, &work);
        json_decref(req);
        free(c->in);
        c->in = NULL;
        start_answer(c, answer, &work);
        json_decref(answer);
}

/* Read what is there; the request ends at a newline or at EOF. */
static void client_read(client *c) {
        bool eof = false, line = false;
        if (!c->in) {
                c->in = malloc(CLOSER_CONTROL_MAX + 1);
                if (!c->in) {
                        client_free(c);
                        return;
                }
        }
        while (c->in_len < CLOSER_CONTROL_MAX) {
                ssize_t k = read(c->fd, c->in + c->in_len, CLOSER_CONTROL_MAX - c->in_len);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0 && errno == EAGAIN)
                        break;
                if (k < 0) {
                        client_free(c);
                        return;
                }
                if (k == 0) {
                        eof = true;
                        break;
                }
                line = memchr(c->in + c->in_len, '\n', (size_t) k) != NULL;
                c->in_len += (size_t) k;
                if (line)
                        break;
        }
        if (!line && c->in_len >= CLOSER_CONTROL_MAX) {
                json_t *e = error_answer("request too large");
                start_answer(c, e, NULL);
                json_decref(e);
                return;
        }
        if (line || eof)
                handle_request(c);
}

/* One step of the work behind the answer; false if the client is gone. */
static bool client_work(client *c) {
        if (c->work.stream_key) {
                char *piece = NULL;
                size_t len = 0;
                FILE *f = open_memstream(&piece, &len);
                int r = f ? c->work.step(c->work.state, f, NULL) : -ENOMEM;
                if (f && fclose(f) != 0 && r >= 0)
                        r = -ENOMEM;
                if (r >= 0 && len)
                        r = out_append_escaped(c, piece, len) < 0 ? -ENOMEM : r;
                free(piece);
                if (r == 0) {
                        finish_work(c);
                        r = out_append(c, "\"}\n", 3);
                }
                if (r < 0) {
                        /* cut short: the client sees an answer that does not parse */
                        client_free(c);
                        return false;
                }
                return true;
        }
        json_t *answer = NULL;
        int r = c->work.step(c->work.state, NULL, &answer);
        if (r == 1)
                return true;
        finish_work(c);
        if (r == 0 && !answer)
                r = -ENOMEM;
        if (r < 0) {
                json_decref(answer);
                answer = error_answer(strerror(-r));
        }
        r = out_append_json(c, answer);
        json_decref(answer);
        if (r < 0) {
                client_free(c);
                return false;
        }
        return true;
}

static void client_write(client *c) {
        bool progress = false;
        for (;;) {
                if (c->out_off < c->out_len) {
                        ssize_t k = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
                                         MSG_DONTWAIT | MSG_NOSIGNAL);
                        if (k < 0 && errno == EINTR)
                                continue;
                        if (k < 0 && errno == EAGAIN)
                                break;
                        if (k < 0) {
                                client_free(c);         /* the peer left: its answer is lost, nothing else */
                                return;
                        }
                        c->out_off += (size_t) k;
                        progress = true;
                        continue;
                }
                c->out_off = c->out_len = 0;
                if (!c->working) {
                        client_free(c);                 /* all said */
                        return;
                }
                /* One bounded step per wake-up: the loop's other events come
                 * in between (EPOLLOUT calls us again while it can write). */
                if (!client_work(c))
                        return;
                if (c->out_len == 0)
                        break;
        }
        if (progress)
                arm_timer(c, c->srv->idle_usec);
}

static int on_client_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        client *c = userdata;
        (void) s, (void) fd;
        if (!c->answering)
                client_read(c);
        else if (revents & EPOLLERR)
                client_free(c);
        else
                client_write(c);
        return 0;
}

static int on_client_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        client *c = userdata;
        (void) s, (void) usec;
        if (!c->answering)
                answer_now(c->fd, "could not read the request: timed out");
        /* else: not reading its answer, give up on it */
        client_free(c);
        return 0;
}

static void accept_one(closer_control_server *s, int fd) {
        struct ucred cred;
        socklen_t len = sizeof(cred);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
            (cred.uid != 0 && cred.uid != s->allowed_uid)) {
                answer_and_close(fd, "permission denied: closerd answers root only");
                return;
        }
        if (s->n_clients >= CLOSER_CONTROL_CLIENTS_MAX) {
                answer_and_close(fd, "busy: too many control connections, try again");
                return;
        }
        client *c = calloc(1, sizeof(*c));
        if (!c) {
                close(fd);
                return;
        }
        c->srv = s;
        c->fd = fd;
        c->next = s->clients;
        if (s->clients)
                s->clients->prev = c;
        s->clients = c;
        s->n_clients++;
        if (sd_event_add_io(s->ev, &c->io, fd, EPOLLIN, on_client_io, c) < 0 ||
            sd_event_add_time_relative(s->ev, &c->timer, CLOCK_MONOTONIC, s->request_usec, 0, on_client_timer, c) <
                    0) {
                client_free(c);
                return;
        }
        (void) sd_event_source_set_priority(c->io, CONTROL_PRIORITY);
        (void) sd_event_source_set_priority(c->timer, CONTROL_PRIORITY);
}

static int on_listen(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        closer_control_server *s = userdata;
        (void) src, (void) revents;
        for (unsigned i = 0; i < ACCEPT_BURST; i++) {
                int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (cfd < 0)
                        break;          /* EAGAIN: all taken; EMFILE...: try at the next wake-up */
                accept_one(s, cfd);
        }
        return 0;
}

int closer_control_server_new(sd_event *ev, int listen_fd, uid_t allowed_uid, closer_control_handler handler,
                              void *userdata, closer_control_server **ret) {
        if (!ev || listen_fd < 0 || !handler || !ret)
                return -EINVAL;
        closer_control_server *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->ev = sd_event_ref(ev);
        s->allowed_uid = allowed_uid;
        s->handler = handler;
        s->userdata = userdata;
        s->request_usec = CLOSER_CONTROL_REQUEST_TIMEOUT_USEC;
        s->idle_usec = CLOSER_CONTROL_IDLE_TIMEOUT_USEC;
        int r = sd_event_add_io(ev, &s->listen_src, listen_fd, EPOLLIN, on_listen, s);
        if (r < 0) {
                closer_control_server_free(s);
                return r;
        }
        (void) sd_event_source_set_priority(s->listen_src, CONTROL_PRIORITY);
        *ret = s;
        return 0;
}

closer_control_server *closer_control_server_free(closer_control_server *s) {
        if (!s)
                return NULL;
        while (s->clients)
                client_free(s->clients);
        sd_event_source_disable_unref(s->listen_src);
        sd_event_unref(s->ev);
        free(s);
        return NULL;
}

void closer_control_server_set_timeouts(closer_control_server *s, uint64_t request_usec, uint64_t idle_usec) {
        if (request_usec)
                s->request_usec = request_usec;
        if (idle_usec)
                s->idle_usec = idle_usec;
}

unsigned closer_control_server_clients(const closer_control_server *s) {
        return s ? s->n_clients : 0;
}

/* ---- client --------------------------------------------------------------- */

/* send(MSG_NOSIGNAL): a peer that hung up is -EPIPE for this connection,
 * not a SIGPIPE that kills closerctl. The socket's send timeout bounds each
 * wait (EAGAIN). */
static int write_all(int fd, const char *s, size_t len) {
        while (len > 0) {
                ssize_t k = send(fd, s, len, MSG_NOSIGNAL);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return errno == EAGAIN ? -ETIMEDOUT : -errno;
                s += k;
                len -= (size_t) k;
        }
        return 0;
}

/* Copies a JSON string's inside to out as it arrives, undoing the escapes. */
typedef struct unescaper {
        int state;                      /* 0 plain, 1 after '\\', 2.. in \uXXXX */
        unsigned code, high;            /* \u digits so far; a pending high surrogate */
        bool closed;                    /* the closing quote was seen */
} unescaper;

static void put_code(FILE *out, unsigned cp) {
        if (cp < 0x80)
                fputc((int) cp, out);
        else if (cp < 0x800) {
                fputc((int) (0xc0 | cp >> 6), out);
                fputc((int) (0x80 | (cp & 0x3f)), out);
        } else if (cp < 0x10000) {
                fputc((int) (0xe0 | cp >> 12), out);
                fputc((int) (0x80 | ((cp >> 6) & 0x3f)), out);
                fputc((int) (0x80 | (cp & 0x3f)), out);
        } else {
                fputc((int) (0xf0 | cp >> 18), out);
                fputc((int) (0x80 | ((cp >> 12) & 0x3f)), out);
                fputc((int) (0x80 | ((cp >> 6) & 0x3f)), out);
                fputc((int) (0x80 | (cp & 0x3f)), out);
        }
}

/* Feed bytes; returns how many were part of the string (up to and with the
 * closing quote), or -EPROTO. */
static ssize_t unescape(unescaper *u, const char *buf, size_t len, FILE *out) {
        size_t i = 0, plain = 0;
        for (; i < len && !u->closed; i++) {
                unsigned char ch = (unsigned char) buf[i];
                if (u->state == 0) {
                        if (ch != '"' && ch != '\\') {
                                if (ch < 0x20)
                                        return -EPROTO;
                                if (u->high)
                                        return -EPROTO;         /* a lone high surrogate */
                                plain++;
                                continue;
                        }
                        fwrite(buf + i - plain, 1, plain, out);
                        plain = 0;
                        if (ch == '"') {
                                if (u->high)
                                        return -EPROTO;
                                u->closed = true;
                        } else
                                u->state = 1;
                        continue;
                }
                if (u->state == 1) {
                        static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
                        const char *p = ch ? strchr(from, ch) : NULL;
                        if (ch == 'u') {
                                u->state = 2;
                                u->code = 0;
                                continue;
                        }
                        if (!p || u->high)
                                return -EPROTO;
                        fputc(to[p - from], out);
                        u->state = 0;
                        continue;
                }
                /* \uXXXX */
                unsigned v = ch >= '0' && ch <= '9' ? ch - '0'
                           : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                           : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : 16;
                if (v == 16)
                        return -EPROTO;
                u->code = u->code << 4 | v;
                if (++u->state < 6)
                        continue;
                u->state = 0;
                if (u->high) {
                        if (u->code < 0xdc00 || u->code > 0xdfff)
                                return -EPROTO;
                        put_code(out, 0x10000 + ((u->high - 0xd800) << 10) + (u->code - 0xdc00));
                        u->high = 0;
                } else if (u->code >= 0xd800 && u->code <= 0xdbff)
                        u->high = u->code;
                else if (u->code >= 0xdc00 && u->code <= 0xdfff)
                        return -EPROTO;
                else
                        put_code(out, u->code);
        }
        fwrite(buf + i - plain, 1, plain, out);
        return (ssize_t) i;
}

int closer_control_call_stream(const char *path, const json_t *request, const char *stream_key, FILE *out,
                               int timeout_ms, json_t **ret) {
        struct sockaddr_un sa;
        char prefix[128] = "";
        int r = fill_addr(path, &sa);
        if (r < 0)
                return r;
        if (stream_key && (!out || snprintf(prefix, sizeof(prefix), "{\"ok\":true,\"%s\":\"", stream_key) >=
                                                   (int) sizeof(prefix)))
                return -EINVAL;
        if (timeout_ms <= 0)
                timeout_ms = CLOSER_CONTROL_CLIENT_TIMEOUT_MS;
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        /* A stopped or hung daemon answers nothing, and a full backlog
         * makes connect() itself wait: bound every wait. */
        struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        (void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                r = errno == EAGAIN ? -ETIMEDOUT : -errno;
                close(fd);
                return r;
        }
        char *req = json_dumps(request, JSON_COMPACT);
        if (!req) {
                close(fd);
                return -ENOMEM;
        }
        r = write_all(fd, req, strlen(req));
        if (r == 0)
                r = write_all(fd, "\n", 1);
        free(req);
        /* The daemon may answer and close before reading all of it (a
         * refused peer): its answer is still there to read. */
        if (r < 0 && r != -EPIPE) {
                close(fd);
                return r;
        }
        r = 0;

        size_t plen = strlen(prefix), cap = 1 << 16, len = 0;
        bool streaming = false, decided = !stream_key;
        unescaper u = {0};
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
                        if (!GREEDY_REALLOC(buf, cap, len + 2)) {
                                r = -ENOMEM;
                                break;
                        }
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
                        r = errno == EAGAIN ? -ETIMEDOUT : -errno;
                        break;
                }
                if (k == 0)
                        break;
                if (streaming && !u.closed) {
                        /* the string goes out; only what follows it is kept */
                        ssize_t used = unescape(&u, buf + len, (size_t) k, out);
                        if (used < 0) {
                                r = (int) used;
                                break;
                        }
                        memmove(buf + len, buf + len + used, (size_t) (k - used));
                        k -= used;
                }
                len += (size_t) k;
                if (!decided && (len >= plen || memcmp(buf, prefix, len) != 0)) {
                        decided = true;
                        if (len >= plen && memcmp(buf, prefix, plen) == 0) {
                                streaming = true;
                                ssize_t used = unescape(&u, buf + plen, len - plen, out);
                                if (used < 0) {
                                        r = (int) used;
                                        break;
                                }
                                /* keep {"ok":true and what follows the string */
                                memmove(buf + 10, buf + plen + used, len - plen - (size_t) used);
                                len = 10 + len - plen - (size_t) used;
                        }
                }
        }
        close(fd);
        if (r == 0 && streaming && !u.closed)
                r = -EPROTO;            /* cut short */
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

int closer_control_call(const char *path, const json_t *request, int timeout_ms, json_t **ret) {
        return closer_control_call_stream(path, request, NULL, NULL, timeout_ms, ret);
}
