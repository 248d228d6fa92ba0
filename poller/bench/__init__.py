"""The benchmark harness and the local feed server it and the tests share."""
