"""The incremental exports: parameters, time-based and cursor paging, feeds, sideloads — in plain values."""
