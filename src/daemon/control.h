/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <jansson.h>
#include <sys/types.h>

/*
 * closerd's control socket: AF_UNIX stream, mode 0600, root peers only
 * (SO_PEERCRED). Protocol `closer-control/1`: the client sends one JSON
 * object on one line, {"command": "status" | "snapshot" | "plan" |
 * "accounting" | "explain", ...arguments}; the daemon answers with one JSON
 * object on one line, {"ok": true, ...} or {"ok": false, "error": "..."},
 * then closes. Requests are at most CLOSER_CONTROL_MAX bytes.
 */
#define CLOSER_CONTROL_MAX (64u * 1024)

/* Bind and listen on path (a stale socket file is replaced). Returns the fd
 * or -errno. */
int closer_control_listen(const char *path);

/* The daemon's handler: returns a new reference to the answer object
 * (with "ok"), never NULL (an error answer on failure). */
typedef json_t *(*closer_control_handler)(void *userdata, const json_t *request);

/* Accept one connection on listen_fd and serve one request. Peers whose uid
 * is not 0 (nor allowed_uid) get {"ok": false, "error": "permission denied"}.
 * Returns 0, or -errno for the connection (the daemon keeps running). */
int closer_control_serve_one(int listen_fd, uid_t allowed_uid, closer_control_handler handler, void *userdata);

/* Client side: connect, send request, read the answer. Returns 0 and *ret
 * (a new reference), or -errno (ECONNREFUSED, ENOENT: no daemon there;
 * EPROTO: a malformed answer). */
int closer_control_call(const char *path, const json_t *request, json_t **ret);
