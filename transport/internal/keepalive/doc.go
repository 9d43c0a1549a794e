// Package keepalive runs the keepalive of many connections from one timer wheel instead of a
// timer per connection.
//
// A connection asks to be called back at a time (Scheduler.Schedule); one goroutine, alive only
// while some connection is scheduled, wakes once per tick and calls back the connections whose
// time has come, at most one tick late. A tick is coarse (at most a second, finer only for
// short keepalive intervals): a ping or a keepalive's end needs no better. A connection holds
// only an Entry (16 bytes) and a slot in the wheel, where a time.Timer and its callback cost
// about 130 bytes of heap each. Scheduling takes the wheel's lock, so it is for what happens
// once per keepalive interval (a ping, a connection parking), never for each message read.
package keepalive
