// Command wampchat is a chat web page built on WAMP: autobahn.js in the browser, Pawl's router
// and a small Go chat service in this one program, on one port.
//
//   - Rooms are topics: chat.room.lobby, chat.room.random, ... The page publishes with
//     disclose_me, so receivers know which session sent a message.
//   - Nicknames go through RPC: chat.set_nick(nick) (unique, checked here) and chat.nicks()
//     (everyone's); a change is announced on chat.on_nick [session, nick], and a nickname
//     freed by a session that left on chat.on_nick [session, null].
//   - Who is online comes from the router's session meta API: wamp.session.list and
//     wamp.session.get when a page connects, then wamp.session.on_join and on_leave.
//   - Late joiners see a room's recent messages, read from the router's event history
//     (pawl.topic.get_events): the embedded router keeps the last 100 of each room.
//
// The page and its autobahn.js bundle are embedded; build the bundle first:
//
//	cd examples/wampchat && npm ci && npm run build && cd ../..
//	go run ./examples/wampchat -listen 127.0.0.1:8080    # then open http://127.0.0.1:8080/
//
// With -router ws://HOST:PORT/ws it runs no router of its own: the chat service joins that
// router (and rejoins after it restarts), and the page connects to it.
package main

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/pubsub"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/transport/websocket"
	"github.com/pawl-wamp/pawl/transport/wsapp"
	"github.com/pawl-wamp/pawl/wamp"
)

//go:embed web
var embedded embed.FS

const (
	realmName wamp.URI = "realm1"
	setNick   wamp.URI = "chat.set_nick"
	listNicks wamp.URI = "chat.nicks"
	onNick    wamp.URI = "chat.on_nick"

	errNickTaken   wamp.URI = "chat.error.nick_taken"
	errNickInvalid wamp.URI = "chat.error.invalid_nick"
	maxNickLen              = 20
)

// Settings from the command line (package variables, so that tests can set them too).
var (
	// webDir, when set, serves the page from that directory instead of the embedded copy.
	webDir string
	// routerURL, when set, is an external router (ws://...) to use instead of the embedded one.
	routerURL string
	// dataDir keeps the embedded router's event history (default: a temporary directory,
	// removed on exit).
	dataDir string
)

// roomHistory is what the embedded router keeps of the rooms: late joiners see it.
var roomHistory = pubsub.HistoryRule{Topic: "chat.room.", Match: wamp.MatchPrefix, Limit: 100, MaxAge: 24 * time.Hour}

func main() {
	addr := flag.String("listen", "127.0.0.1:8080", "host:port to serve on (port 0 picks a free one)")
	flag.StringVar(&webDir, "web", "", "serve the page from this directory (e.g. examples/wampchat/web) instead of the embedded copy")
	flag.StringVar(&routerURL, "router", "", "join this external router (ws://host:port/ws, realm realm1) instead of running one")
	flag.StringVar(&dataDir, "data", "", "keep the embedded router's room history in this directory (default: a temporary one)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, *addr, func(url string) {
		wampURL := routerURL
		if wampURL == "" {
			wampURL = "ws" + url[len("http"):] + "/ws"
		}
		slog.Info("listening", "page", url+"/", "wamp", wampURL)
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		slog.Error("wampchat failed", "err", err)
		os.Exit(1)
	}
}

// static returns the page's files.
func static() (fs.FS, error) {
	if webDir != "" {
		return os.DirFS(webDir), nil
	}
	return fs.Sub(embedded, "web")
}

// run serves the page, the router (WAMP on /ws) and the chat service on addr until ctx ends;
// ready, when not nil, gets the base URL (http://host:port) once everything is up.
func run(ctx context.Context, addr string, ready func(url string)) error {
	log := slog.Default()
	files, err := static()
	if err != nil {
		return err
	}
	if _, err := fs.Stat(files, "vendor/autobahn.min.js"); err != nil {
		log.Warn("the page's autobahn.js bundle is missing: run `npm ci && npm run build` in examples/wampchat (then rebuild)", "err", err)
	}
	app := wsapp.NewApp(log)
	app.Handle("/", http.FileServerFS(files))
	// The page asks where the router is: this program's /ws, or the external one.
	app.HandleFunc("/config.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"url": routerURL, "realm": string(realmName)})
	})
	chat := &chatService{log: log, nicks: map[wamp.ID]string{}}
	svc, stopRouter, err := startRouter(ctx, app, log, func(c *client.Client) { chat.prune(ctx, c) })
	if err != nil {
		return err
	}
	chat.c = svc
	if err := chat.start(ctx); err != nil {
		svc.Close()
		stopRouter()
		return err
	}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		svc.Close()
		stopRouter()
		return fmt.Errorf("listen: %w", err)
	}
	srv := websocket.NewHTTPServer(app, websocket.HTTPTimeouts{})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	if ready != nil {
		ready("http://" + ln.Addr().String())
	}
	select {
	case <-ctx.Done():
	case <-svc.Done():
		err = fmt.Errorf("chat service: session ended: %w", svc.Err())
	case err = <-served:
		served <- err
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	svc.Close()
	stopRouter()
	err = errors.Join(err, srv.Shutdown(stopCtx))
	if e := <-served; !errors.Is(e, http.ErrServerClosed) {
		err = errors.Join(err, e)
	}
	return err
}

// startRouter joins the chat service to the router: the external one (-router), over a
// connection that reconnects, or an embedded one mounted on app's /ws, with its room history
// in dataDir. stop ends what it started.
// onRejoin runs when the chat service has rejoined the external router.
func startRouter(ctx context.Context, app *wsapp.App, log *slog.Logger, onRejoin func(*client.Client)) (svc *client.Client, stop func(), err error) {
	if routerURL != "" {
		svc, err = client.Dial(ctx, routerURL, realmName, client.Options{
			AuthID: "chat-service", Logger: log,
			Reconnect: &client.ReconnectPolicy{MaxDelay: 5 * time.Second, OnRejoin: onRejoin},
		})
		if err != nil {
			return nil, nil, fmt.Errorf("chat service: join %s: %w", routerURL, err)
		}
		return svc, func() {}, nil
	}
	dir, removeDir := dataDir, func() {}
	if dir == "" {
		if dir, err = os.MkdirTemp("", "wampchat-"); err != nil {
			return nil, nil, err
		}
		removeDir = func() { os.RemoveAll(dir) }
	}
	store, err := pubsub.OpenBoltStore(filepath.Join(dir, pubsub.HistoryFile))
	if err != nil {
		removeDir()
		return nil, nil, err
	}
	router := realm.NewRouter(log)
	router.AddRealm(realm.New(realm.Config{Name: realmName, HistoryStore: store,
		History: pubsub.HistoryConfig{Topics: []pubsub.HistoryRule{roomHistory}}}, log))
	app.Handle("/ws", router.WebSocketHandler(realm.EndpointOptions{}))
	stop = func() {
		router.Shutdown(2 * time.Second)
		store.Close()
		removeDir()
	}
	// The chat service joins in-process, as a trusted session (authrole "trusted", so the
	// page's online list, which shows authrole "anonymous", leaves it out).
	svc, err = router.LocalClient(ctx, realmName, client.Options{AuthID: "chat-service", Logger: log})
	if err != nil {
		stop()
		return nil, nil, fmt.Errorf("chat service: %w", err)
	}
	return svc, stop, nil
}

// chatService owns the nicknames: one per session, unique regardless of case.
type chatService struct {
	c   *client.Client
	log *slog.Logger

	mu    sync.Mutex
	nicks map[wamp.ID]string
}

func (s *chatService) start(ctx context.Context) error {
	if _, err := s.c.Register(ctx, setNick, s.setNick, client.RegisterOptions{DiscloseCaller: true}.Dict()); err != nil {
		return fmt.Errorf("chat service: %w", err)
	}
	if _, err := s.c.Register(ctx, listNicks, s.listNicks, nil); err != nil {
		return fmt.Errorf("chat service: %w", err)
	}
	// A session that leaves frees its nickname.
	if _, err := s.c.Subscribe(ctx, "wamp.session.on_leave", func(e *client.Event) {
		if len(e.Args) == 0 {
			return
		}
		if id, ok := wamp.AsID(e.Args[0]); ok {
			s.mu.Lock()
			nick, had := s.nicks[id]
			delete(s.nicks, id)
			s.mu.Unlock()
			if had {
				s.log.Info("nickname freed", "nick", nick, "session", id)
				s.c.Publish(ctx, onNick, nil, wamp.List{id, nil}, nil)
			}
		}
	}, nil); err != nil {
		return fmt.Errorf("chat service: %w", err)
	}
	return nil
}

// prune forgets the nicknames of sessions that are gone: after the service rejoined, it may
// have missed their wamp.session.on_leave (a router restart ends every session; the pages
// rejoin and take their nicknames back).
func (s *chatService) prune(ctx context.Context, c *client.Client) {
	res, err := c.Call(ctx, "wamp.session.list", nil, nil, nil)
	if err != nil || len(res.Args) == 0 {
		s.log.Warn("cannot list the sessions after rejoining", "err", err)
		return
	}
	ids, _ := res.Args[0].(wamp.List)
	alive := map[wamp.ID]bool{}
	for _, v := range ids {
		if id, ok := wamp.AsID(v); ok {
			alive[id] = true
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id := range s.nicks {
		if !alive[id] {
			delete(s.nicks, id)
		}
	}
}

// chat.set_nick(nick) → nick: the caller's nickname, trimmed; fails with
// chat.error.invalid_nick or chat.error.nick_taken.
func (s *chatService) setNick(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
	caller, ok := wamp.AsID(inv.Details["caller"])
	if !ok {
		return nil, wamp.NewError(wamp.ErrInvalidArgument, "the caller's session is unknown")
	}
	var nick string
	if len(inv.Args) > 0 {
		nick, _ = inv.Args[0].(string)
	}
	nick = strings.TrimSpace(nick)
	if err := validNick(nick); err != nil {
		return nil, wamp.NewError(errNickInvalid, err.Error())
	}
	s.mu.Lock()
	for id, other := range s.nicks {
		if id != caller && strings.EqualFold(other, nick) {
			s.mu.Unlock()
			return nil, wamp.NewError(errNickTaken, fmt.Sprintf("%q is taken", nick))
		}
	}
	s.nicks[caller] = nick
	s.mu.Unlock()
	s.log.Info("nickname set", "nick", nick, "session", caller)
	// Tell every page (a publisher does not receive its own event; the service is not a page).
	if err := s.c.Publish(ctx, onNick, wamp.Dict{"acknowledge": true}, wamp.List{caller, nick}, nil); err != nil {
		return nil, fmt.Errorf("announcing the nickname: %w", err)
	}
	return &client.Result{Args: wamp.List{nick}}, nil
}

// chat.nicks() → [[session, nick], ...] sorted by nickname.
func (s *chatService) listNicks(context.Context, *client.Invocation) (*client.Result, error) {
	s.mu.Lock()
	pairs := make(wamp.List, 0, len(s.nicks))
	for id, nick := range s.nicks {
		pairs = append(pairs, wamp.List{id, nick})
	}
	s.mu.Unlock()
	slices.SortFunc(pairs, func(a, b any) int {
		return strings.Compare(a.(wamp.List)[1].(string), b.(wamp.List)[1].(string))
	})
	return &client.Result{Args: wamp.List{pairs}}, nil
}

func validNick(nick string) error {
	if nick == "" || utf8.RuneCountInString(nick) > maxNickLen {
		return fmt.Errorf("a nickname has 1 to %d characters", maxNickLen)
	}
	for _, r := range nick {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune(" -_.", r) {
			return fmt.Errorf("a nickname has letters, digits, spaces and - _ . only")
		}
	}
	return nil
}
