{
  "targets": [
    {
      "target_name": "socket_dup",
      "sources": ["socket_dup.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Werror"]
    }
  ]
}
