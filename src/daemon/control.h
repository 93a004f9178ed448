/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

/*
 * closerd's control socket: AF_UNIX stream, mode 0600, root peers only
 * (SO_PEERCRED). Protocol `closer-control/1`: the client sends one JSON
 * object on one line, {"command": "status" | "snapshot" | "plan" |
 * "accounting" | "explain", ...arguments}; the daemon answers with one JSON
 * object on one line, {"ok": true, ...} or {"ok": false, "error": "..."},
 * then closes. Requests are at most CLOSER_CONTROL_MAX bytes.
 *
 * A large answer (a ledger export) is the same one line, written as it is
 * produced: {"ok":true,"export":"…"} with "ok" first and the long string
 * last, so a client may copy the string out as it arrives
 * (closer_control_call_stream). If producing it fails half-way the daemon
 * closes the connection before the closing quote: the answer does not
 * parse, and is never mistaken for a complete one.
 *
 * The server runs inside the daemon's sd-event loop and never blocks it:
 * every client is non-blocking with its own deadlines (CLOSER_CONTROL_
 * REQUEST_TIMEOUT_USEC to send its request, CLOSER_CONTROL_IDLE_TIMEOUT_USEC
 * without reading a byte of its answer), at most CLOSER_CONTROL_CLIENTS_MAX
 * are served at once (the others are told "busy"), and long answers are
 * made in bounded steps between the daemon's other events.
 */
#define CLOSER_CONTROL_MAX (64u * 1024)
#define CLOSER_CONTROL_CLIENTS_MAX 16
#define CLOSER_CONTROL_REQUEST_TIMEOUT_USEC (2u * 1000000)
#define CLOSER_CONTROL_IDLE_TIMEOUT_USEC (10u * 1000000)
/* closerctl's default: no byte from the daemon for this long is a failure */
#define CLOSER_CONTROL_CLIENT_TIMEOUT_MS 10000

/* Bind and listen on path. A socket file left there by an earlier daemon is
 * replaced; anything else at path is left alone (-EEXIST). Returns the fd or
 * -errno. */
int closer_control_listen(const char *path);

/*
 * An answer made in steps. step() is called from the event loop until it
 * returns 0, each call doing a bounded amount of work:
 *  - with stream_key set, the answer is {"ok":true,"<stream_key>":"…"}:
 *    each step appends the next piece of the string to piece (raw bytes,
 *    escaped by the server) and returns 1 (more) or 0 (the string is
 *    complete); ret_answer is NULL;
 *  - without, each step returns 1 (not yet) or 0 with *ret_answer (the
 *    whole answer, a new reference); piece is NULL.
 * A negative return ends the connection (a stream is cut short).
 * free(state) is called once, whatever happened.
 */
typedef struct closer_control_work {
        int (*step)(void *state, FILE *piece, json_t **ret_answer);
        void (*free)(void *state);
        void *state;
        const char *stream_key;
} closer_control_work;

/* The daemon's handler: returns a new reference to the answer object (with
 * "ok"), or NULL after filling *ret_work for an answer made in steps. */
typedef json_t *(*closer_control_handler)(void *userdata, const json_t *request, closer_control_work *ret_work);

typedef struct closer_control_server closer_control_server;

/* Serve listen_fd (non-blocking) in ev. Peers whose uid is not 0 (nor
 * allowed_uid) get {"ok": false, "error": "permission denied..."} without
 * their request being read. Returns 0 or -errno. */
int closer_control_server_new(sd_event *ev, int listen_fd, uid_t allowed_uid, closer_control_handler handler,
                              void *userdata, closer_control_server **ret);
/* Drop every client (their work is freed) and stop; the listening fd stays
 * the caller's. Accepts NULL; returns NULL. */
closer_control_server *closer_control_server_free(closer_control_server *s);
/* Deadlines (tests); 0 keeps the current one. */
void closer_control_server_set_timeouts(closer_control_server *s, uint64_t request_usec, uint64_t idle_usec);
/* Clients being served now. */
unsigned closer_control_server_clients(const closer_control_server *s);

/* Client side: connect, send request, read the answer. A daemon that sends
 * nothing for timeout_ms (0: CLOSER_CONTROL_CLIENT_TIMEOUT_MS) is given up:
 * -ETIMEDOUT. Returns 0 and *ret (a new reference), or -errno (ECONNREFUSED,
 * ENOENT: no daemon there; EPROTO: a malformed answer). */
int closer_control_call(const char *path, const json_t *request, int timeout_ms, json_t **ret);

/* The same, but a streamed answer's string member stream_key is written to
 * out as it arrives instead of being kept (an export of any size in constant
 * memory); *ret is the answer without it. An answer cut short is -EPROTO,
 * after what arrived was written. */
int closer_control_call_stream(const char *path, const json_t *request, const char *stream_key, FILE *out,
                               int timeout_ms, json_t **ret);
