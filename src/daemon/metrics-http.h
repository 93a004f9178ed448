/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Serving GET /metrics over HTTP (libmicrohttpd), for Prometheus to scrape.
 * Off by default (the daemon starts it only when configured) and loopback
 * only: a scrape exposes domain names and UUIDs, so it is refused on any
 * other address; a remote Prometheus goes through a proxy the operator sets
 * up on purpose.
 *
 * No thread: the server runs in the caller's event loop. The caller polls
 * closer_metrics_http_fd() for input, and calls closer_metrics_http_process()
 * when it is readable AND when closer_metrics_http_timeout_ms() has passed
 * (asked again after every process()): idle connections are only closed
 * then, and without it a few idle clients would hold every connection.
 *
 * Any local user can reach a loopback port: one user (the owner of the
 * client socket, from the kernel's sock_diag) holds at most 8 of the 64
 * connections, and a connection idle for 10 s is closed, so a hostile user
 * cannot keep Prometheus or root out.
 * The render callback runs inside process(), so it may read the daemon's
 * state without locks.
 */

#include <stdint.h>

typedef struct closer_metrics_http closer_metrics_http;

/* Fill *ret_text (malloc'd, NUL-terminated) with the current exposition;
 * return its length or -errno (answered as 500). */
typedef int (*closer_metrics_http_render_fn)(void *userdata, char **ret_text);

/*
 * Listen on address (a literal IPv4 in 127.0.0.0/8 or "::1") and port (0 =
 * ephemeral). Returns 0, -EINVAL (not an IP literal), -EPERM (not a loopback
 * address), -EADDRINUSE and other -errno from bind.
 */
int closer_metrics_http_start(const char *address, uint16_t port,
                              closer_metrics_http_render_fn render, void *userdata,
                              closer_metrics_http **ret);

/* The port bound (useful after asking for 0). */
uint16_t closer_metrics_http_port(const closer_metrics_http *h);

/* One fd to poll for POLLIN (an epoll fd holding the listener and clients). */
int closer_metrics_http_fd(const closer_metrics_http *h);

/* Returns 1 and the ms until process() must run anyway (connection
 * timeouts), or 0 if there is no such deadline. */
int closer_metrics_http_timeout_ms(closer_metrics_http *h, uint64_t *ret_ms);

/* Accept, read, answer, close what is ready; never blocks. 0 or -EIO. */
int closer_metrics_http_process(closer_metrics_http *h);

/* Stop and free; closes every connection. Accepts NULL; returns NULL. */
closer_metrics_http *closer_metrics_http_stop(closer_metrics_http *h);
