{
  "targets": [
    {
      "target_name": "huge_pages",
      "sources": ["huge_pages.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
