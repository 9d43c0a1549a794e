//go:build linux

package idlewait

import (
	"errors"
	"slices"
	"sync"
	"syscall"
)

// Supported reports whether Watch can watch sockets on this system.
const Supported = true

// A Waker is told that its socket became readable (or hung up, or failed).
type Waker interface {
	// Wake runs on the poller's goroutine: it must not block (it starts a goroutine to read).
	Wake()
}

// poller is the process's one epoll instance with the sockets being watched.
type poller struct {
	once    sync.Once
	initErr error
	epfd    int
	wakeR   int // read end of a pipe in the epoll set: makes the waiting goroutine look again
	wakeW   int

	mu      sync.Mutex
	watched []watch // by file descriptor (numbers are small and dense: no map overhead)
	count   int     // watches in watched
	seq     uint32
	running bool // a goroutine waits in epoll_wait
}

// watch is one registration: seq tells a stale readiness event (of an earlier watch of a
// reused descriptor number) from a current one; w is nil for no watch.
type watch struct {
	seq uint32
	w   Waker
}

// at returns the watch of descriptor fd, or the zero watch. Caller holds p.mu.
func (p *poller) at(fd int32) watch {
	if fd < 0 || int(fd) >= len(p.watched) {
		return watch{}
	}
	return p.watched[fd]
}

var p poller

func (p *poller) init() error {
	p.once.Do(func() {
		p.epfd, p.initErr = syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if p.initErr != nil {
			return
		}
		var fds [2]int
		if p.initErr = syscall.Pipe2(fds[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); p.initErr != nil {
			return
		}
		p.wakeR, p.wakeW = fds[0], fds[1]
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(p.wakeR)}
		p.initErr = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, p.wakeR, &ev)
	})
	return p.initErr
}

// Watch asks for w.Wake once the socket behind rc has something to read (or was hung up). It
// reports false when the socket cannot be watched (closed, or epoll refused it); the caller
// then reads on as before. The token it returns goes to Unwatch.
func Watch(rc syscall.RawConn, w Waker) (token uint32, ok bool) {
	if p.init() != nil {
		return 0, false
	}
	err := rc.Control(func(fd uintptr) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.seq++
		token = p.seq
		ev := syscall.EpollEvent{
			Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT,
			Fd:     int32(fd),
			Pad:    int32(token),
		}
		if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev); err != nil {
			return
		}
		if n := int(fd) + 1; n > len(p.watched) {
			p.watched = slices.Grow(p.watched, n-len(p.watched))
			p.watched = p.watched[:cap(p.watched)]
		}
		p.watched[fd] = watch{seq: token, w: w}
		p.count++
		ok = true
		if !p.running {
			p.running = true
			go p.loop()
		}
	})
	return token, err == nil && ok
}

// Unwatch ends the watch Watch returned token for. It must come before the socket is closed:
// a closed descriptor's number may be reused by another socket.
func Unwatch(rc syscall.RawConn, token uint32) {
	rc.Control(func(fd uintptr) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if cur := p.at(int32(fd)); cur.w == nil || cur.seq != token {
			return
		}
		p.watched[fd] = watch{}
		p.count--
		syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil)
		if p.count == 0 && p.running {
			syscall.Write(p.wakeW, []byte{0}) // the waiting goroutine may stop
		}
	})
}

// Watched is the number of sockets being watched.
func Watched() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.count
}

// loop waits for readiness and wakes the watchers, until nothing is watched.
func (p *poller) loop() {
	var events [256]syscall.EpollEvent
	var wake []Waker
	var drain [64]byte
	for {
		n, err := syscall.EpollWait(p.epfd, events[:], -1)
		if err != nil && !errors.Is(err, syscall.EINTR) {
			panic("idlewait: epoll_wait: " + err.Error()) // only a broken epoll descriptor fails so
		}
		wake = wake[:0]
		p.mu.Lock()
		for _, ev := range events[:max(n, 0)] {
			if ev.Fd == int32(p.wakeR) {
				for {
					if k, _ := syscall.Read(p.wakeR, drain[:]); k <= 0 {
						break
					}
				}
				continue
			}
			if cur := p.at(ev.Fd); cur.w != nil && cur.seq == uint32(ev.Pad) {
				wake = append(wake, cur.w)
			}
		}
		if p.count == 0 {
			p.running = false
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		// Outside the lock: a waker unwatches, which takes it.
		for i, w := range wake {
			w.Wake()
			wake[i] = nil
		}
	}
}
