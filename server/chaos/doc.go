// Package chaos is minichat's fault-injection suite: it runs the real
// binary as a three-node cluster on a Postgres and a NATS server of its
// own, with a TCP proxy between each node and each service, drives it with
// steady chat traffic from clients that behave as the protocol asks of
// real ones (client_id retries, resume with hello, de-duplication by seq,
// a capped replay's skipped range paged back with history, a dead
// connection noticed after two silent heartbeats and left for another
// node), injects one fault at a time and then checks invariants: every
// acknowledged message reached every member exactly once after
// de-duplication, in order, without a gap; each connection's stream
// followed the resume rules; presence converged and did not flap; no
// error but the retryable ones; no node needed a restart by hand.
//
// The scenarios (scenarios_test.go) run only when MINICHAT_CHAOS is set
// (make chaos; CHAOS_SHORT=1 for the short form in .ci/run), and then
// anything missing fails them rather than skipping them. The building
// blocks — Proxy, the harness of processes (Postgres, NATS, Node,
// Cluster), the Client and the checks — are plain Go with unit tests of
// their own that run with the rest of the repository's tests.
//
// Concurrency: a Client runs a connection goroutine, a writer per
// connection and a sender; all of its state is behind its mutex, and no
// lock is held while waiting on the network. Harness types are safe for
// concurrent use unless their doc says otherwise.
package chaos
