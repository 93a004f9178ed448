/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * GET /metrics on loopback through libmicrohttpd in "external epoll" mode:
 * MHD owns the sockets, the daemon's event loop owns the waiting. MHD's own
 * error log stays off (library code does not log); failures come back as
 * HTTP status codes or -errno.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "daemon/metrics-http.h"
#include "daemon/metrics.h"

/* A scrape is one small request; anything more is a client misbehaving.
 * Every local user can connect to a loopback port, so one user alone may
 * hold only a few connections: idle connections of a hostile user cannot
 * keep Prometheus (another user) or root out. An idle connection is closed
 * after the timeout (the caller must run process() then: see the header). */
#define HTTP_CONNECTION_LIMIT 64
#define HTTP_CONNECTIONS_PER_UID 8
#define HTTP_CONNECTION_TIMEOUT_S 10

/* A connection and the user whose socket is at its other end. */
typedef struct peer {
        bool used, started;             /* accepted by the policy; MHD made it a connection */
        uint64_t gen;                   /* process() call that accepted it */
        struct sockaddr_storage addr;
        bool uid_known;
        uid_t uid;
} peer;

struct closer_metrics_http {
        struct MHD_Daemon *mhd;
        closer_metrics_http_render_fn render;
        void *userdata;
        uint16_t port;
        int fd;
        struct sockaddr_storage local; /* the address we listen on */
        int diag_fd;                    /* NETLINK_SOCK_DIAG, -1 until needed */
        uint64_t gen;
        peer peers[HTTP_CONNECTION_LIMIT];
};

static bool same_endpoint(const struct sockaddr *a, const struct sockaddr_storage *b) {
        if (a->sa_family != b->ss_family)
                return false;
        if (a->sa_family == AF_INET) {
                const struct sockaddr_in *x = (const struct sockaddr_in *) a, *y = (const struct sockaddr_in *) b;
                return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
        }
        const struct sockaddr_in6 *x = (const struct sockaddr_in6 *) a, *y = (const struct sockaddr_in6 *) b;
        return x->sin6_port == y->sin6_port && memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
}

/* The owner of the client's socket, from the kernel's socket table
 * (sock_diag, as ss(8) shows it): both ends are on this host. */
static int peer_uid(closer_metrics_http *h, const struct sockaddr *addr, uid_t *ret) {
        struct {
                struct nlmsghdr nlh;
                struct inet_diag_req_v2 req;
        } msg = {
                .nlh = {.nlmsg_len = sizeof(msg), .nlmsg_type = SOCK_DIAG_BY_FAMILY, .nlmsg_flags = NLM_F_REQUEST},
                .req = {.sdiag_family = (uint8_t) addr->sa_family, .sdiag_protocol = IPPROTO_TCP,
                        .idiag_states = ~0u,
                        .id = {.idiag_cookie = {INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE}}},
        };
        /* the client's socket: its source is the peer, its destination us */
        if (addr->sa_family == AF_INET) {
                const struct sockaddr_in *c = (const struct sockaddr_in *) addr;
                const struct sockaddr_in *l = (const struct sockaddr_in *) &h->local;
                msg.req.id.idiag_sport = c->sin_port;
                msg.req.id.idiag_dport = htons(h->port);
                memcpy(msg.req.id.idiag_src, &c->sin_addr, sizeof(c->sin_addr));
                memcpy(msg.req.id.idiag_dst, &l->sin_addr, sizeof(l->sin_addr));
        } else if (addr->sa_family == AF_INET6) {
                const struct sockaddr_in6 *c = (const struct sockaddr_in6 *) addr;
                const struct sockaddr_in6 *l = (const struct sockaddr_in6 *) &h->local;
                msg.req.id.idiag_sport = c->sin6_port;
                msg.req.id.idiag_dport = htons(h->port);
                memcpy(msg.req.id.idiag_src, &c->sin6_addr, sizeof(c->sin6_addr));
                memcpy(msg.req.id.idiag_dst, &l->sin6_addr, sizeof(l->sin6_addr));
        } else
                return -EAFNOSUPPORT;
        if (h->diag_fd < 0) {
                h->diag_fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
                if (h->diag_fd < 0)
                        return -errno;
                /* the kernel answers at once; never wait long whatever happens */
                struct timeval tv = {.tv_usec = 100000};
                (void) setsockopt(h->diag_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        }
        if (send(h->diag_fd, &msg, sizeof(msg), MSG_NOSIGNAL) < 0)
                return -errno;
        union {
                struct nlmsghdr nlh;
                char buf[8192];
        } ans;
        ssize_t n = recv(h->diag_fd, &ans, sizeof(ans), 0);
        if (n < 0)
                return -errno;
        for (struct nlmsghdr *nlh = &ans.nlh; NLMSG_OK(nlh, (size_t) n); nlh = NLMSG_NEXT(nlh, n)) {
                if (nlh->nlmsg_type == NLMSG_ERROR) {
                        const struct nlmsgerr *e = NLMSG_DATA(nlh);
                        return nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(*e)) && e->error < 0 ? e->error : -EIO;
                }
                if (nlh->nlmsg_type == SOCK_DIAG_BY_FAMILY &&
                    nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(struct inet_diag_msg))) {
                        const struct inet_diag_msg *m = NLMSG_DATA(nlh);
                        *ret = m->idiag_uid;
                        return 0;
                }
        }
        return -ENOENT;
}

/* MHD asks before it takes a connection: refuse a user over its share. */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen) {
        closer_metrics_http *h = cls;
        peer *free_slot = NULL;
        uid_t uid = 0;
        unsigned same = 0;

        if (!addr || addrlen < sizeof(struct sockaddr_in))
                return MHD_NO;
        /* Unknown uid (no sock_diag: a restricted sandbox): such peers
         * share one quota, which still leaves the global limit to others. */
        bool known = peer_uid(h, addr, &uid) >= 0;
        for (unsigned i = 0; i < HTTP_CONNECTION_LIMIT; i++) {
                peer *p = &h->peers[i];
                if (p->used && !p->started && p->gen != h->gen)
                        p->used = false;        /* accepted but never made a connection */
                if (!p->used) {
                        if (!free_slot)
                                free_slot = p;
                        continue;
                }
                if (p->uid_known == known && (!known || p->uid == uid))
                        same++;
        }
        if (!free_slot || same >= HTTP_CONNECTIONS_PER_UID)
                return MHD_NO;
        *free_slot = (peer) {.used = true, .gen = h->gen, .uid_known = known, .uid = uid};
        memcpy(&free_slot->addr, addr, addrlen < sizeof(free_slot->addr) ? addrlen : sizeof(free_slot->addr));
        return MHD_YES;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
        closer_metrics_http *h = cls;
        if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
                peer *p = *socket_context;
                if (p)
                        p->used = p->started = false;
                *socket_context = NULL;
                return;
        }
        const union MHD_ConnectionInfo *info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (!info || !info->client_addr)
                return;
        for (unsigned i = 0; i < HTTP_CONNECTION_LIMIT; i++) {
                peer *p = &h->peers[i];
                if (p->used && !p->started && same_endpoint(info->client_addr, &p->addr)) {
                        p->started = true;
                        *socket_context = p;
                        return;
                }
        }
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *text) {
        struct MHD_Response *resp =
                MHD_create_response_from_buffer(strlen(text), (void *) text, MHD_RESPMEM_PERSISTENT);
        if (!resp)
                return MHD_NO;
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
        if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
        enum MHD_Result r = MHD_queue_response(c, status, resp);
        MHD_destroy_response(resp);
        return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
        closer_metrics_http *h = cls;

        if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
                return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
        /* A GET body is ignored: skip it so MHD can answer. */
        if (*upload_data_size > 0) {
                *upload_data_size = 0;
                return MHD_YES;
        }
        if (strcmp(url, "/metrics") != 0)
                return reply_text(c, MHD_HTTP_NOT_FOUND, "closerd serves /metrics only\n");

        char *text = NULL;
        int len = h->render(h->userdata, &text);
        if (len < 0 || !text) {
                free(text);
                return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot render the metrics\n");
        }
        struct MHD_Response *resp = MHD_create_response_from_buffer((size_t) len, text, MHD_RESPMEM_MUST_FREE);
        if (!resp) {
                free(text);
                return MHD_NO;
        }
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, CLOSER_METRICS_CONTENT_TYPE);
        enum MHD_Result r = MHD_queue_response(c, MHD_HTTP_OK, resp);
        MHD_destroy_response(resp);
        return r;
}

int closer_metrics_http_start(const char *address, uint16_t port,
                              closer_metrics_http_render_fn render, void *userdata,
                              closer_metrics_http **ret) {
        struct sockaddr_storage ss = {0};
        unsigned flags = MHD_USE_EPOLL;

        if (!address || !render || !ret)
                return -EINVAL;

        struct sockaddr_in *sin = (struct sockaddr_in *) &ss;
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &ss;
        if (inet_pton(AF_INET, address, &sin->sin_addr) == 1) {
                /* 127.0.0.0/8 */
                if ((ntohl(sin->sin_addr.s_addr) >> 24) != 127)
                        return -EPERM;
                sin->sin_family = AF_INET;
                sin->sin_port = htons(port);
        } else if (inet_pton(AF_INET6, address, &sin6->sin6_addr) == 1) {
                if (!IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
                        return -EPERM;
                sin6->sin6_family = AF_INET6;
                sin6->sin6_port = htons(port);
                flags |= MHD_USE_IPv6;
        } else
                return -EINVAL;

        closer_metrics_http *h = calloc(1, sizeof(*h));
        if (!h)
                return -ENOMEM;
        h->render = render;
        h->userdata = userdata;
        h->local = ss;
        h->diag_fd = -1;

        errno = 0;
        h->mhd = MHD_start_daemon(flags, port, on_accept, h, on_request, h,
                                  MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &ss,
                                  MHD_OPTION_CONNECTION_LIMIT, (unsigned) HTTP_CONNECTION_LIMIT,
                                  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) HTTP_CONNECTION_TIMEOUT_S,
                                  MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
                                  MHD_OPTION_END);
        if (!h->mhd) {
                int e = errno > 0 ? errno : EIO;
                free(h);
                return -e;
        }
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT);
        h->port = info ? info->port : port;
        info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD);
        if (!info) {
                MHD_stop_daemon(h->mhd);
                free(h);
                return -EIO;
        }
        h->fd = info->epoll_fd;
        *ret = h;
        return 0;
}

uint16_t closer_metrics_http_port(const closer_metrics_http *h) {
        return h ? h->port : 0;
}

int closer_metrics_http_fd(const closer_metrics_http *h) {
        return h ? h->fd : -EINVAL;
}

int closer_metrics_http_timeout_ms(closer_metrics_http *h, uint64_t *ret_ms) {
        MHD_UNSIGNED_LONG_LONG ms;
        if (!h || !ret_ms)
                return -EINVAL;
        if (MHD_get_timeout(h->mhd, &ms) != MHD_YES)
                return 0;
        *ret_ms = (uint64_t) ms;
        return 1;
}

int closer_metrics_http_process(closer_metrics_http *h) {
        if (!h)
                return -EINVAL;
        h->gen++;
        return MHD_run(h->mhd) == MHD_YES ? 0 : -EIO;
}

closer_metrics_http *closer_metrics_http_stop(closer_metrics_http *h) {
        if (!h)
                return NULL;
        MHD_stop_daemon(h->mhd);
        if (h->diag_fd >= 0)
                close(h->diag_fd);
        free(h);
        return NULL;
}
