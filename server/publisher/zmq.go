package publisher

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/go-zeromq/zmq4"
)

// zmqOut is the PUB socket and the PUSH peers. Sends never block the hub:
// the PUB socket queues up to the high-water mark, each PUSH peer has its
// own bounded queue, and what does not fit is dropped, as LAVA's DONTWAIT.
//
// ZMQ has no authentication, so a PUB socket carries one realm only: the
// main socket (LAVA's EVENT_SOCKET) the default realm's events, each
// socket of HubConfig.ZMQRealms its realm's. A realm's events reach no
// socket another realm's users are given. PUSH peers are the lab admin's
// own collectors and get every realm.
type zmqOut struct {
	pub    zmq4.Socket
	realms map[string]zmq4.Socket
	pushes []*pushPeer
	logger *slog.Logger
}

func listenPub(ctx context.Context, addr string, hwm int) (zmq4.Socket, error) {
	pub := zmq4.NewPub(context.WithoutCancel(ctx))
	if err := pub.SetOption(zmq4.OptionHWM, hwm); err != nil {
		pub.Close()
		return nil, fmt.Errorf("zmq pub high-water mark: %w", err)
	}
	if err := pub.Listen(addr); err != nil {
		pub.Close()
		return nil, fmt.Errorf("zmq pub listen %s: %w", addr, err)
	}
	return pub, nil
}

type pushPeer struct {
	addr  string
	queue chan [][]byte
	sock  zmq4.Socket
	done  chan struct{}
}

func startZMQ(ctx context.Context, cfg HubConfig, logger *slog.Logger) (*zmqOut, error) {
	z := &zmqOut{logger: logger, realms: map[string]zmq4.Socket{}}
	if cfg.ZMQListen != "" {
		pub, err := listenPub(ctx, cfg.ZMQListen, cfg.ZMQHWM)
		if err != nil {
			return nil, err
		}
		z.pub = pub
		logger.Info("zmq publisher listening", slog.String("addr", z.addr()))
	}
	for realm, addr := range cfg.ZMQRealms {
		pub, err := listenPub(ctx, addr, cfg.ZMQHWM)
		if err != nil {
			z.close()
			return nil, fmt.Errorf("realm %s: %w", realm, err)
		}
		z.realms[realm] = pub
		logger.Info("zmq publisher listening", slog.String("realm", realm), slog.String("addr", "tcp://"+pub.Addr().String()))
	}
	for _, addr := range cfg.ZMQPush {
		p := &pushPeer{addr: addr, queue: make(chan [][]byte, cfg.ZMQHWM), done: make(chan struct{}),
			sock: zmq4.NewPush(context.WithoutCancel(ctx), zmq4.WithDialerRetry(time.Second), zmq4.WithDialerMaxRetries(-1), zmq4.WithTimeout(5*time.Second))}
		z.pushes = append(z.pushes, p)
		go p.run(logger)
	}
	return z, nil
}

func (z *zmqOut) addr() string {
	if z.pub == nil || z.pub.Addr() == nil {
		return ""
	}
	return "tcp://" + z.pub.Addr().String()
}

// realmAddr is the address of a realm's own PUB socket, "" when none.
func (z *zmqOut) realmAddr(realm string) string {
	if realm == "" || realm == "default" {
		return z.addr()
	}
	if pub, ok := z.realms[realm]; ok && pub.Addr() != nil {
		return "tcp://" + pub.Addr().String()
	}
	return ""
}

func (z *zmqOut) send(realm string, frames [][]byte) {
	pub := z.pub
	if realm != "" && realm != "default" {
		pub = z.realms[realm] // nil: this realm has no socket
	}
	if pub != nil {
		if err := pub.Send(zmq4.NewMsgFrom(frames...)); err != nil {
			z.logger.Warn("zmq publish", slog.String("realm", realm), slog.Any("error", err))
		}
	}
	for _, p := range z.pushes {
		select {
		case p.queue <- frames:
		default: // peer too slow or away: drop, as LAVA's DONTWAIT
		}
	}
}

func (z *zmqOut) close() {
	if z.pub != nil {
		z.pub.Close()
	}
	for _, pub := range z.realms {
		pub.Close()
	}
	for _, p := range z.pushes {
		close(p.queue)
		p.sock.Close()
		<-p.done
	}
}

// run dials (retrying forever) and forwards the queue.
func (p *pushPeer) run(logger *slog.Logger) {
	defer close(p.done)
	if err := p.sock.Dial(p.addr); err != nil {
		logger.Warn("zmq push dial", slog.String("addr", p.addr), slog.Any("error", err))
		for range p.queue { //nolint:revive // drain until closed
		}
		return
	}
	for frames := range p.queue {
		if err := p.sock.Send(zmq4.NewMsgFrom(frames...)); err != nil {
			logger.Debug("zmq push", slog.String("addr", p.addr), slog.Any("error", err))
		}
	}
}
