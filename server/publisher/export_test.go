package publisher_test

import (
	"context"

	"github.com/coder/websocket"
)

func websocketDial(ctx context.Context, url string) (*websocket.Conn, any, error) {
	c, resp, err := websocket.Dial(ctx, url, nil)
	return c, resp, err
}
