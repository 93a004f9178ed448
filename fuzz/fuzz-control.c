/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * closerd's control protocol, server side: arbitrary bytes from a peer on
 * the control socket (a listening socket in a temp dir served by the
 * control server in an sd-event loop, a client that writes the input and
 * closes its sending side, the loop run until the server closes). Oracles:
 * the server answers with exactly one line holding one JSON object with a
 * boolean "ok" (and a string "error" when false), calls the handler only
 * with an object, and keeps no connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int listen_fd = -1;
static struct sockaddr_un addr;
static unsigned handled;
static sd_event *ev;
static closer_control_server *srv;

static json_t *handler(void *userdata, const json_t *req, closer_control_work *work);

static void setup(void) {
        char dir[] = "/tmp/closer-fuzz-control-XXXXXX";
        if (!mkdtemp(dir))
                abort();
        memset(&addr, 0, sizeof(addr));
        addr.sun_family = AF_UNIX;
        snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/control", dir);
        listen_fd = closer_control_listen(addr.sun_path);
        if (listen_fd < 0 || sd_event_new(&ev) < 0 ||
            closer_control_server_new(ev, listen_fd, 0, handler, NULL, &srv) < 0)
                abort();
}

/* What closerd's handler reads from a request. */
static json_t *handler(void *userdata, const json_t *req, closer_control_work *work) {
        (void) userdata, (void) work;
        if (!json_is_object(req))
                abort();
        handled++;
        const char *cmd = json_string_value(json_object_get(req, "command"));
        json_t *tid = json_object_get(req, "tid"), *since = json_object_get(req, "since_wall_ns");
        const char *fmt = json_string_value(json_object_get(req, "format"));
        if (!cmd)
                return json_pack("{s:b, s:s}", "ok", 0, "error", "missing \"command\"");
        return json_pack("{s:b, s:s, s:I, s:I, s:s?}", "ok", 1, "command", cmd, "tid",
                         json_is_integer(tid) ? json_integer_value(tid) : (json_int_t) -1, "since",
                         json_is_integer(since) ? json_integer_value(since) : (json_int_t) 0, "format", fmt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static char answer[1 << 20];

        if (listen_fd < 0)
                setup();
        /* A request longer than the limit is refused; more than that would
         * only fill the socket buffer of this single-threaded harness. */
        if (size > CLOSER_CONTROL_MAX + 64)
                size = CLOSER_CONTROL_MAX + 64;
        int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c < 0 || connect(c, (struct sockaddr *) &addr, sizeof(addr)) < 0)
                abort();
        size_t off = 0;
        while (off < size) {
                ssize_t k = write(c, data + off, size - off);
                if (k <= 0)
                        abort();
                off += (size_t) k;
        }
        shutdown(c, SHUT_WR);
        unsigned before = handled;
        size_t len = 0;
        /* serve until the server closes: accept, read, answer (bounded) */
        for (unsigned i = 0; i < 1000; i++) {
                if (sd_event_run(ev, 100) < 0)
                        abort();
                ssize_t k = recv(c, answer + len, sizeof(answer) - 1 - len, MSG_DONTWAIT);
                if (k < 0 && (errno == EAGAIN || errno == EINTR))
                        continue;
                if (k <= 0)
                        break;
                len += (size_t) k;
        }
        close(c);
        if (closer_control_server_clients(srv) != 0)
                abort();
        answer[len] = '\0';
        char *nl = memchr(answer, '\n', len);
        if (!nl || nl != answer + len - 1)
                abort();
        json_error_t jerr;
        json_t *a = json_loads(answer, 0, &jerr);
        json_t *ok = json_object_get(a, "ok");
        if (!json_is_object(a) || !json_is_boolean(ok))
                abort();
        if (json_is_false(ok) && !json_is_string(json_object_get(a, "error")))
                abort();
        if (handled > before + 1)
                abort();
        json_decref(a);
        return 0;
}
