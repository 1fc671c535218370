//! (being written) Throwaway PostgreSQL cluster for tests.
