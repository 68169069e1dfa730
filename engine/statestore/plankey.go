package statestore

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// PlanKeySize is the length of a plan key in bytes.
const PlanKeySize = 32

// planKeyFormat is the format_version of the plan key object.
const planKeyFormat = 1

// planKeyObject is the plan key as stored. It has no String method on
// purpose: nothing should format it.
type planKeyObject struct {
	FormatVersion int       `json:"format_version"`
	Key           string    `json:"key"` // standard base64
	Created       time.Time `json:"created"`
}

// PlanKey returns the deployment's plan key: a secret of PlanKeySize
// random bytes that signs plan files (HMAC) and keys the digests of
// secrets recorded in state and plans. It is created at the first call,
// create-if-absent like a snapshot, so that two runs racing to create it
// end up with the same key; later calls read it. It needs the
// deployment's lock, because a new key invalidates every outstanding
// plan. Never print or log the key.
func (s *Store) PlanKey(ctx context.Context, l *Lock, deployment string) ([]byte, error) {
	dep, err := l.owned(s)
	if err != nil {
		return nil, err
	}
	if deployment != dep {
		return nil, fmt.Errorf("plan key of deployment %q asked for under the lock of deployment %q; take %q's lock", deployment, dep, deployment)
	}
	key, ok, err := s.ReadPlanKey(ctx, dep)
	if err != nil || ok {
		return key, err
	}
	key = make([]byte, PlanKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	data, err := json.MarshalIndent(planKeyObject{
		FormatVersion: planKeyFormat,
		Key:           base64.StdEncoding.EncodeToString(key),
		Created:       time.Now().UTC().Truncate(time.Second),
	}, "", "  ")
	if err != nil {
		return nil, err
	}
	k := PlanKeyKey(dep)
	switch err := s.create(ctx, k, append(data, '\n'), true); {
	case err == nil:
		return key, nil
	case errors.Is(err, errExists):
		// Another run created it since it was read: use that one.
		key, ok, err := s.ReadPlanKey(ctx, dep)
		if err == nil && !ok {
			err = fmt.Errorf("plan key %s was created and removed while this run read it; try again", s.b.objectURL(k))
		}
		return key, err
	default:
		return nil, fmt.Errorf("create plan key %s: %w", s.b.objectURL(k), err)
	}
}

// ReadPlanKey returns the deployment's plan key, false when it has none
// yet. It needs no lock: checking a plan's signature only reads the key.
// An unreadable key is an error naming the object; its text never holds
// any of the object's content.
func (s *Store) ReadPlanKey(ctx context.Context, deployment string) ([]byte, bool, error) {
	if err := checkDeployment(deployment); err != nil {
		return nil, false, err
	}
	k := PlanKeyKey(deployment)
	data, err := s.b.get(ctx, k)
	if errors.Is(err, errNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read plan key %s: %w", s.b.objectURL(k), err)
	}
	var obj planKeyObject
	// Decoding errors may quote the content: only say what is wrong.
	if json.Unmarshal(data, &obj) != nil {
		return nil, false, s.badPlanKey(deployment, "it is not a JSON object with format_version, key and created")
	}
	switch {
	case obj.FormatVersion > planKeyFormat:
		return nil, false, fmt.Errorf("plan key %s has format version %d, newer than this ferry understands (%d); upgrade ferry", s.b.objectURL(k), obj.FormatVersion, planKeyFormat)
	case obj.FormatVersion < 1:
		return nil, false, s.badPlanKey(deployment, "its format_version is missing")
	}
	key, err := base64.StdEncoding.DecodeString(obj.Key)
	if err != nil || len(key) != PlanKeySize {
		return nil, false, s.badPlanKey(deployment, fmt.Sprintf("its key is not %d bytes in base64", PlanKeySize))
	}
	return key, true, nil
}

func (s *Store) badPlanKey(deployment, why string) error {
	return &corruptError{fmt.Sprintf("plan key %s is unreadable (%s); delete it and run ferry again: a new key is created, and plans made for deployment %q before then must be made again with `ferry plan`", s.b.objectURL(PlanKeyKey(deployment)), why, deployment)}
}
