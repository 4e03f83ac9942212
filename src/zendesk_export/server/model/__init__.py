"""The server's rules, taking plain values (store, clock time, account, caller, data), never the request."""
