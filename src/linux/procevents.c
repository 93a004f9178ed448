/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "linux/procevents.h"

struct closer_procevents {
        int fd;
        int ack_err;            /* the kernel's answer to our subscription, 0 = accepted */
};

typedef struct __attribute__((packed)) mcast_msg {
        struct nlmsghdr hdr;
        struct cn_msg cn;
        enum proc_cn_mcast_op op;
} mcast_msg;

static int send_op(int fd, enum proc_cn_mcast_op op) {
        mcast_msg m;
        memset(&m, 0, sizeof(m));
        m.hdr.nlmsg_len = sizeof(m);
        m.hdr.nlmsg_type = NLMSG_DONE;
        m.hdr.nlmsg_pid = 0;    /* the kernel fills in our port id */
        m.cn.id.idx = CN_IDX_PROC;
        m.cn.id.val = CN_VAL_PROC;
        m.cn.len = sizeof(enum proc_cn_mcast_op);
        m.op = op;
        return send(fd, &m, sizeof(m), 0) < 0 ? -errno : 0;
}

int closer_procevents_open(closer_procevents **ret) {
        int fd = socket(PF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_CONNECTOR);
        if (fd < 0)
                return -errno;
        struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC, .nl_pid = 0};
        int r = 0;
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                r = -errno;
        if (r == 0)
                r = send_op(fd, PROC_CN_MCAST_LISTEN);
        closer_procevents *p = r == 0 ? malloc(sizeof(*p)) : NULL;
        if (!p) {
                close(fd);
                return r < 0 ? r : -ENOMEM;
        }
        p->fd = fd;
        p->ack_err = 0;
        *ret = p;
        return 0;
}

int closer_procevents_refused(const closer_procevents *p) {
        return p->ack_err > 0 ? -p->ack_err : p->ack_err;
}

int closer_procevents_fd(const closer_procevents *p) {
        return p->fd;
}

int closer_procevents_drain(closer_procevents *p, int *pids, unsigned max_pids, unsigned *ret_execs, int *ret_lost) {
        /* aligned for the netlink headers we walk */
        union {
                struct nlmsghdr h;
                char buf[8192];
        } u;
        unsigned execs = 0;
        int lost = 0;

        for (;;) {
                ssize_t n = recv(p->fd, u.buf, sizeof(u.buf), 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                break;
                        if (errno == ENOBUFS) {
                                lost = 1;       /* overrun: events were dropped */
                                continue;
                        }
                        return -errno;
                }
                size_t len = (size_t) n;
                for (struct nlmsghdr *h = &u.h; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
                        if (h->nlmsg_type == NLMSG_ERROR || h->nlmsg_type == NLMSG_NOOP)
                                continue;
                        const struct cn_msg *cn = NLMSG_DATA(h);
                        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*cn)) || cn->id.idx != CN_IDX_PROC ||
                            cn->id.val != CN_VAL_PROC || cn->len < sizeof(struct proc_event) ||
                            h->nlmsg_len < NLMSG_LENGTH(sizeof(*cn) + cn->len))
                                continue;       /* not ours, or truncated */
                        /* cn->data sits at offset 36 of the datagram: not aligned
                         * for struct proc_event, so copy the field out */
                        uint32_t what;
                        memcpy(&what, cn->data + offsetof(struct proc_event, what), sizeof(what));
                        if (what == PROC_EVENT_EXEC) {
                                if (pids && execs < max_pids && cn->len >= offsetof(struct proc_event, event_data) +
                                                                           sizeof(struct exec_proc_event)) {
                                        uint32_t tgid;
                                        memcpy(&tgid, cn->data + offsetof(struct proc_event,
                                                                          event_data.exec.process_tgid),
                                               sizeof(tgid));
                                        pids[execs] = (int) tgid;
                                }
                                execs++;
                        }
                        else if (what == PROC_EVENT_NONE) {
                                /* the answer to PROC_CN_MCAST_LISTEN: a refusal
                                 * (no CAP_NET_ADMIN) arrives here, not from send() */
                                uint32_t e;
                                memcpy(&e, cn->data + offsetof(struct proc_event, event_data.ack.err), sizeof(e));
                                p->ack_err = (int) e;
                        }
                }
        }
        *ret_execs = execs;
        *ret_lost = lost;
        return 0;
}

closer_procevents *closer_procevents_close(closer_procevents *p) {
        if (!p)
                return NULL;
        (void) send_op(p->fd, PROC_CN_MCAST_IGNORE);
        close(p->fd);
        free(p);
        return NULL;
}
