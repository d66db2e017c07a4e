/* N-API glue: argument conversion and errors. The socket work lives in sock.c. */
#include <node_api.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sock.h"

typedef struct {
  int orig_ns; /* this thread's network namespace when the addon was loaded; -1 if unknown */
} instance;

#define CHECK(call)                                                   \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      napi_throw_error(env, "EAMBITNAPI", "N-API call failed: " #call); \
      return NULL;                                                    \
    }                                                                 \
  } while (0)

/* Throws Error(message) with .errno (positive) and .syscall; the TypeScript wrapper adds .code. */
static napi_value throw_errno(napi_env env, int err, const char *syscall) {
  napi_value msg, error, num, sys;
  char text[256];
  snprintf(text, sizeof(text), "%s: %s", syscall, strerror(err));
  if (napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg) != napi_ok ||
      napi_create_error(env, NULL, msg, &error) != napi_ok ||
      napi_create_int32(env, err, &num) != napi_ok ||
      napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sys) != napi_ok ||
      napi_set_named_property(env, error, "errno", num) != napi_ok ||
      napi_set_named_property(env, error, "syscall", sys) != napi_ok) {
    napi_throw_error(env, "EAMBITNAPI", text);
    return NULL;
  }
  napi_throw(env, error);
  return NULL;
}

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
    napi_throw_type_error(env, NULL, "ambit_native: missing arguments");
    return 0;
  }
  return 1;
}

static int get_i32(napi_env env, napi_value v, int32_t *out, const char *what) {
  if (napi_get_value_int32(env, v, out) != napi_ok) {
    char text[128];
    snprintf(text, sizeof(text), "ambit_native: %s must be a number", what);
    napi_throw_type_error(env, NULL, text);
    return 0;
  }
  return 1;
}

/* Copies a JS string into buf; returns 0 (and throws) when it is not a string or too long. */
static int get_str(napi_env env, napi_value v, char *buf, size_t size, const char *what) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, buf, size, &len) != napi_ok || len + 1 >= size) {
    char text[128];
    snprintf(text, sizeof(text), "ambit_native: %s must be a string shorter than %zu bytes", what, size - 1);
    napi_throw_type_error(env, NULL, text);
    return 0;
  }
  return 1;
}

/* netns: null/undefined (this namespace), a path, or an fd. Sets *fd (-1 for "here") and
 * *owned when the fd was opened here and must be closed. */
static int resolve_netns(napi_env env, napi_value v, int *fd, int *owned, int *err, const char **syscall) {
  napi_valuetype t;
  *fd = -1;
  *owned = 0;
  *err = 0;
  if (napi_typeof(env, v, &t) != napi_ok) return 0;
  if (t == napi_null || t == napi_undefined) return 1;
  if (t == napi_number) return get_i32(env, v, fd, "netns fd");
  char path[4096];
  if (t != napi_string || !get_str(env, v, path, sizeof(path), "netns path")) {
    if (t != napi_string) napi_throw_type_error(env, NULL, "ambit_native: netns must be a path, an fd or null");
    return 0;
  }
  *err = ambit_open_netns(path, fd, syscall);
  *owned = *err == 0;
  return 1;
}

/* socketInNetns(netns, family 4|6, bindAddress|null, port, mark (-1 = none), transparent,
 *               reusePort, backlog (-1 = do not listen)) -> fd */
static napi_value socket_in_netns(napi_env env, napi_callback_info info) {
  napi_value argv[8], result;
  instance *inst;
  if (!get_args(env, info, 8, argv)) return NULL;
  CHECK(napi_get_instance_data(env, (void **)&inst));

  ambit_sock_spec spec;
  memset(&spec, 0, sizeof(spec));
  int32_t family, port, backlog;
  int64_t mark;
  bool transparent, reuse_port;
  if (!get_i32(env, argv[1], &family, "family") || !get_i32(env, argv[3], &port, "port") ||
      !get_i32(env, argv[7], &backlog, "backlog")) return NULL;
  CHECK(napi_get_value_int64(env, argv[4], &mark));
  CHECK(napi_get_value_bool(env, argv[5], &transparent));
  CHECK(napi_get_value_bool(env, argv[6], &reuse_port));
  if ((family != 4 && family != 6) || port < 0 || port > 65535 || mark > 0xffffffffLL) {
    napi_throw_range_error(env, NULL, "ambit_native: family, port or mark out of range");
    return NULL;
  }
  spec.family = family == 4 ? AF_INET : AF_INET6;
  spec.has_mark = mark >= 0;
  spec.mark = (uint32_t)mark;
  spec.transparent = transparent;
  spec.reuse_port = reuse_port;
  spec.backlog = backlog;

  napi_valuetype t;
  CHECK(napi_typeof(env, argv[2], &t));
  if (t == napi_string) {
    char ip[INET6_ADDRSTRLEN + 16];
    if (!get_str(env, argv[2], ip, sizeof(ip), "address")) return NULL;
    if (ambit_parse_addr(spec.family, ip, (uint16_t)port, &spec.bind_addr, &spec.bind_len) != 0) {
      napi_throw_type_error(env, NULL, "ambit_native: address is not an IP literal of the socket's family");
      return NULL;
    }
    spec.has_bind = 1;
  } else if (port != 0 || backlog >= 0) {
    ambit_parse_addr(spec.family, family == 4 ? "0.0.0.0" : "::", (uint16_t)port, &spec.bind_addr, &spec.bind_len);
    spec.has_bind = 1;
  }

  int ns, owned, err, fd = -1;
  const char *syscall = "";
  if (!resolve_netns(env, argv[0], &ns, &owned, &err, &syscall)) return NULL;
  if (err == 0) err = ambit_make_socket(ns, inst->orig_ns, &spec, &fd, &syscall);
  if (owned) close(ns);
  if (err) return throw_errno(env, err, syscall);
  CHECK(napi_create_int32(env, fd, &result));
  return result;
}

static napi_value make_sockaddr(napi_env env, const struct sockaddr_storage *ss) {
  napi_value obj, addr, port, family;
  char text[INET6_ADDRSTRLEN];
  int fam;
  uint16_t p;
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
    inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text));
    p = ntohs(sin->sin_port);
    fam = 4;
  } else {
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
    inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text));
    p = ntohs(sin6->sin6_port);
    fam = 6;
  }
  CHECK(napi_create_object(env, &obj));
  CHECK(napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &addr));
  CHECK(napi_create_uint32(env, p, &port));
  CHECK(napi_create_uint32(env, (uint32_t)fam, &family));
  CHECK(napi_set_named_property(env, obj, "address", addr));
  CHECK(napi_set_named_property(env, obj, "port", port));
  CHECK(napi_set_named_property(env, obj, "family", family));
  return obj;
}

static napi_value get_original_dst(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  struct sockaddr_storage ss;
  const char *syscall = "";
  if (!get_args(env, info, 1, argv) || !get_i32(env, argv[0], &fd, "fd")) return NULL;
  int err = ambit_original_dst(fd, &ss, &syscall);
  if (err) return throw_errno(env, err, syscall);
  return make_sockaddr(env, &ss);
}

static napi_value set_mark(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd;
  int64_t mark;
  const char *syscall = "";
  if (!get_args(env, info, 2, argv) || !get_i32(env, argv[0], &fd, "fd")) return NULL;
  CHECK(napi_get_value_int64(env, argv[1], &mark));
  int err = ambit_set_mark(fd, (uint32_t)mark, &syscall);
  return err ? throw_errno(env, err, syscall) : NULL;
}

static napi_value set_transparent(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  const char *syscall = "";
  if (!get_args(env, info, 1, argv) || !get_i32(env, argv[0], &fd, "fd")) return NULL;
  int err = ambit_set_transparent(fd, &syscall);
  return err ? throw_errno(env, err, syscall) : NULL;
}

static napi_value open_netns(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  char path[4096];
  int fd;
  const char *syscall = "";
  if (!get_args(env, info, 1, argv) || !get_str(env, argv[0], path, sizeof(path), "path")) return NULL;
  int err = ambit_open_netns(path, &fd, &syscall);
  if (err) return throw_errno(env, err, syscall);
  CHECK(napi_create_int32(env, fd, &result));
  return result;
}

static napi_value close_fd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!get_args(env, info, 1, argv) || !get_i32(env, argv[0], &fd, "fd")) return NULL;
  /* Linux releases the descriptor even when close() reports EINTR, so only EBADF matters. */
  if (close(fd) != 0 && errno == EBADF) return throw_errno(env, EBADF, "close");
  return NULL;
}

static void free_instance(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  instance *inst = data;
  if (inst->orig_ns >= 0) close(inst->orig_ns);
  free(inst);
}

NAPI_MODULE_INIT() {
  instance *inst = malloc(sizeof(*inst));
  if (inst == NULL) {
    napi_throw_error(env, NULL, "ambit_native: out of memory");
    return NULL;
  }
  /* Kept open for the addon's life: the way back after each switch must not depend on /proc. */
  inst->orig_ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (napi_set_instance_data(env, inst, free_instance, NULL) != napi_ok) {
    free_instance(env, inst, NULL);
    napi_throw_error(env, NULL, "ambit_native: cannot set instance data");
    return NULL;
  }
  napi_property_descriptor props[] = {
    {"socketInNetns", NULL, socket_in_netns, NULL, NULL, NULL, napi_enumerable, NULL},
    {"getOriginalDst", NULL, get_original_dst, NULL, NULL, NULL, napi_enumerable, NULL},
    {"setMark", NULL, set_mark, NULL, NULL, NULL, napi_enumerable, NULL},
    {"setTransparent", NULL, set_transparent, NULL, NULL, NULL, napi_enumerable, NULL},
    {"openNetns", NULL, open_netns, NULL, NULL, NULL, napi_enumerable, NULL},
    {"closeFd", NULL, close_fd, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props));
  return exports;
}
