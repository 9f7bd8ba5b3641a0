package notify

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Standard Webhooks headers.
const (
	HeaderWebhookID        = "webhook-id"
	HeaderWebhookTimestamp = "webhook-timestamp"
	HeaderWebhookSignature = "webhook-signature"
)

// ParseWebhookSecret decodes a Standard Webhooks secret, "whsec_" followed
// by base64 (the prefix is optional), into the HMAC key. Its errors never
// contain the secret.
func ParseWebhookSecret(secret string) ([]byte, error) {
	b64 := strings.TrimPrefix(secret, "whsec_")
	if b64 == "" {
		return nil, errors.New("webhook secret is empty (want whsec_<base64>)")
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, errors.New("webhook secret is not valid base64 after whsec_")
	}
	if len(key) < 16 {
		return nil, fmt.Errorf("webhook secret is too short (%d bytes; want at least 16)", len(key))
	}
	return key, nil
}

// Sign returns the Standard Webhooks signature header value
// "v1,<base64 HMAC-SHA256 of id.timestamp.body>" keyed with the decoded
// secret (see [ParseWebhookSecret]).
func Sign(secret, id string, timestamp int64, body []byte) (string, error) {
	key, err := ParseWebhookSecret(secret)
	if err != nil {
		return "", err
	}
	return signKey(key, id, timestamp, body), nil
}

func signKey(key []byte, id string, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write([]byte(strconv.FormatInt(timestamp, 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// webhook is the http(s):// channel: a JSON POST of the notification,
// signed when it has a key.
type webhook struct {
	name   string
	target string // the URL without the secret parameter
	key    []byte // nil when unsigned
	client *http.Client
	now    func() time.Time
	words  Wording
	s      *sender
}

func (w *webhook) Name() string { return w.name }

// Notify posts n as JSON. The webhook-id is the same across retries; the
// timestamp and signature are made afresh for each attempt.
func (w *webhook) Notify(ctx context.Context, n Notification) error {
	body, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("encode notification: %w", err)
	}
	id := webhookID(n)
	return w.s.deliver(ctx, n, func(ctx context.Context) outcome {
		h := http.Header{"User-Agent": {w.words.userAgent()}}
		if w.key != nil {
			ts := w.now().Unix()
			h.Set(HeaderWebhookID, id)
			h.Set(HeaderWebhookTimestamp, strconv.FormatInt(ts, 10))
			h.Set(HeaderWebhookSignature, signKey(w.key, id, ts, body))
		}
		return postJSON(ctx, w.client, w.target, body, h, w.now)
	})
}

// webhookID is the message id of n: "msg_" and its notification id, or a
// random one when n has none.
func webhookID(n Notification) string {
	if n.ID != "" {
		return "msg_" + n.ID
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "msg_" + hex.EncodeToString(b[:])
}
