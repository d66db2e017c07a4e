#include "sock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/nsfs.h>

/* From <linux/netfilter_ipv4.h> and <linux/netfilter_ipv6/ip6_tables.h>, which clash with glibc's
 * <netinet/in.h> when both are included. */
#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif
#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78
#endif
#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

int ambit_parse_addr(int family, const char *ip, uint16_t port, struct sockaddr_storage *out, socklen_t *len) {
  memset(out, 0, sizeof(*out));
  if (family == AF_INET) {
    struct sockaddr_in *sin = (struct sockaddr_in *)out;
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    if (inet_pton(AF_INET, ip, &sin->sin_addr) != 1) return EINVAL;
    *len = sizeof(*sin);
    return 0;
  }
  if (family == AF_INET6) {
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    if (inet_pton(AF_INET6, ip, &sin6->sin6_addr) != 1) return EINVAL;
    *len = sizeof(*sin6);
    return 0;
  }
  return EINVAL;
}

static int set_int(int fd, int level, int name, int value) {
  return setsockopt(fd, level, name, &value, sizeof(value)) == 0 ? 0 : errno;
}

static int sock_family(int fd, const char **syscall) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
    *syscall = "getsockname";
    return -errno;
  }
  return ss.ss_family;
}

static int transparent_for(int fd, int family, const char **syscall) {
  int err;
  if (family == AF_INET6) {
    if ((err = set_int(fd, SOL_IPV6, IPV6_TRANSPARENT, 1)) != 0) { *syscall = "setsockopt(IPV6_TRANSPARENT)"; return err; }
    err = set_int(fd, SOL_IPV6, IPV6_FREEBIND, 1);
    /* Kernels before 4.15 lack IPV6_FREEBIND; IP_FREEBIND sets the same flag there. */
    if (err == ENOPROTOOPT) err = set_int(fd, SOL_IP, IP_FREEBIND, 1);
    if (err != 0) { *syscall = "setsockopt(IPV6_FREEBIND)"; return err; }
    return 0;
  }
  if ((err = set_int(fd, SOL_IP, IP_TRANSPARENT, 1)) != 0) { *syscall = "setsockopt(IP_TRANSPARENT)"; return err; }
  if ((err = set_int(fd, SOL_IP, IP_FREEBIND, 1)) != 0) { *syscall = "setsockopt(IP_FREEBIND)"; return err; }
  return 0;
}

int ambit_set_mark(int fd, uint32_t mark, const char **syscall) {
  int err = set_int(fd, SOL_SOCKET, SO_MARK, (int)mark);
  if (err) *syscall = "setsockopt(SO_MARK)";
  return err;
}

int ambit_set_transparent(int fd, const char **syscall) {
  int family = sock_family(fd, syscall);
  if (family < 0) return -family;
  return transparent_for(fd, family, syscall);
}

/* Options go on before bind(): with IP_TRANSPARENT set after it, binding a foreign address fails. */
static int configure_and_bind(int fd, const ambit_sock_spec *spec, const char **syscall) {
  int err;
  if (spec->has_mark && (err = ambit_set_mark(fd, spec->mark, syscall)) != 0) return err;
  if (spec->transparent && (err = transparent_for(fd, spec->family, syscall)) != 0) return err;
  if (spec->backlog >= 0) {
    /* Node's own listeners set SO_REUSEADDR too; without it a restart hits TIME_WAIT. */
    if ((err = set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1)) != 0) { *syscall = "setsockopt(SO_REUSEADDR)"; return err; }
    if (spec->reuse_port && (err = set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1)) != 0) {
      *syscall = "setsockopt(SO_REUSEPORT)";
      return err;
    }
  } else if (spec->has_bind) {
    /* An outgoing socket bound to an address with port 0: let connect() pick the port, so that
     * many connections from one spoofed source can share ports across destinations. */
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&spec->bind_addr;
    if (sin->sin_port == 0) (void)set_int(fd, SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1);
  }
  if (spec->has_bind && bind(fd, (const struct sockaddr *)&spec->bind_addr, spec->bind_len) != 0) {
    *syscall = "bind";
    return errno;
  }
  if (spec->backlog >= 0 && listen(fd, spec->backlog) != 0) {
    *syscall = "listen";
    return errno;
  }
  return 0;
}

static int create_here(const ambit_sock_spec *spec, int *out_fd, const char **syscall) {
  int fd = socket(spec->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) {
    *syscall = "socket";
    return errno;
  }
  int err = configure_and_bind(fd, spec, syscall);
  if (err) {
    close(fd);
    return err;
  }
  *out_fd = fd;
  return 0;
}

int ambit_make_socket(int target_ns, int orig_ns, const ambit_sock_spec *spec, int *out_fd, const char **syscall) {
  if (target_ns < 0) return create_here(spec, out_fd, syscall);
  if (orig_ns < 0) {
    *syscall = "open(/proc/thread-self/ns/net)";
    return EBADF;
  }
  if (setns(target_ns, CLONE_NEWNET) != 0) {
    *syscall = "setns";
    return errno;
  }
  int err = create_here(spec, out_fd, syscall);
  if (setns(orig_ns, CLONE_NEWNET) != 0) {
    /* The thread now runs JavaScript in a foreign namespace; nothing it does can be trusted. */
    fprintf(stderr, "ambit_native: cannot return to the original network namespace: %s; aborting\n", strerror(errno));
    abort();
  }
  return err;
}

static int original_dst_v4(int fd, struct sockaddr_storage *out, const char **syscall) {
  socklen_t len = sizeof(struct sockaddr_in);
  memset(out, 0, sizeof(*out));
  if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, out, &len) != 0) {
    *syscall = "getsockopt(SO_ORIGINAL_DST)";
    return errno;
  }
  return 0;
}

int ambit_original_dst(int fd, struct sockaddr_storage *out, const char **syscall) {
  struct sockaddr_storage local;
  socklen_t len = sizeof(local);
  if (getsockname(fd, (struct sockaddr *)&local, &len) != 0) {
    *syscall = "getsockname";
    return errno;
  }
  if (local.ss_family == AF_INET) return original_dst_v4(fd, out, syscall);
  if (local.ss_family != AF_INET6) {
    *syscall = "getsockname";
    return EAFNOSUPPORT;
  }
  /* A dual-stack listener's IPv4 connections are tracked by IPv4 conntrack. */
  if (IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)&local)->sin6_addr)) return original_dst_v4(fd, out, syscall);
  len = sizeof(struct sockaddr_in6);
  memset(out, 0, sizeof(*out));
  if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, out, &len) != 0) {
    *syscall = "getsockopt(IP6T_SO_ORIGINAL_DST)";
    return errno;
  }
  return 0;
}

int ambit_open_netns(const char *path, int *out_fd, const char **syscall) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *syscall = "open";
    return errno;
  }
  /* Fail here, not at the first setns(), when the file is not a network namespace. */
  int type = ioctl(fd, NS_GET_NSTYPE);
  if (type != CLONE_NEWNET) {
    int err = type < 0 ? errno : EINVAL;
    close(fd);
    *syscall = "ioctl(NS_GET_NSTYPE)";
    return err == ENOTTY ? EINVAL : err;
  }
  *out_fd = fd;
  return 0;
}
