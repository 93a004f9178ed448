/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * GET /metrics on loopback through libmicrohttpd in "external epoll" mode:
 * MHD owns the sockets, the daemon's event loop owns the waiting. MHD's own
 * error log stays off (library code does not log); failures come back as
 * HTTP status codes or -errno.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "daemon/metrics-http.h"
#include "daemon/metrics.h"

/* A scrape is one small request; anything more is a client misbehaving. */
#define HTTP_CONNECTION_LIMIT 16
#define HTTP_CONNECTION_TIMEOUT_S 10

struct closer_metrics_http {
        struct MHD_Daemon *mhd;
        closer_metrics_http_render_fn render;
        void *userdata;
        uint16_t port;
        int fd;
};

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

        errno = 0;
        h->mhd = MHD_start_daemon(flags, port, NULL, NULL, on_request, h,
                                  MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &ss,
                                  MHD_OPTION_CONNECTION_LIMIT, (unsigned) HTTP_CONNECTION_LIMIT,
                                  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) HTTP_CONNECTION_TIMEOUT_S,
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
        return MHD_run(h->mhd) == MHD_YES ? 0 : -EIO;
}

closer_metrics_http *closer_metrics_http_stop(closer_metrics_http *h) {
        if (!h)
                return NULL;
        MHD_stop_daemon(h->mhd);
        free(h);
        return NULL;
}
