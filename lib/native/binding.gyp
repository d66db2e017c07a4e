{
  "targets": [
    {
      "target_name": "ambit_native",
      "sources": ["src/addon.c", "src/sock.c"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": ["-Wall", "-Wextra", "-O2"],
      "cflags_c": ["-std=gnu11"]
    }
  ]
}
