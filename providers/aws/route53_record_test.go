package aws_test

import (
	"fmt"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/providers"
	"github.com/nixferry/ferry/providers/aws"
	"github.com/nixferry/ferry/providers/aws/awstest"
)

// recordValues returns a record's TTL and values in Route53, "" when it
// does not exist.
func recordValues(t *testing.T, env *awstest.Env, zone, name string, typ types.RRType) string {
	t.Helper()
	out, err := r53(env).ListResourceRecordSets(t.Context(), &route53.ListResourceRecordSetsInput{HostedZoneId: awssdk.String(zone), StartRecordName: awssdk.String(name), StartRecordType: typ, MaxItems: awssdk.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	for _, rs := range out.ResourceRecordSets {
		if strings.TrimSuffix(awssdk.ToString(rs.Name), ".") == name && rs.Type == typ {
			var vs []string
			for _, v := range rs.ResourceRecords {
				vs = append(vs, awssdk.ToString(v.Value))
			}
			return fmt.Sprintf("%d %s", awssdk.ToInt64(rs.TTL), strings.Join(vs, ","))
		}
	}
	return ""
}

// TestRoute53RecordDrift: values and ttl changed outside ferry show in a
// read, the update puts back the configured ones, and a record deleted
// outside ferry reads as gone.
func TestRoute53RecordDrift(t *testing.T) {
	env := awstest.New(t)
	zone := testZone(t, env, "example.com")
	o := newObject(t, resource(t, configure(t, env, nil), aws.Route53RecordType), "www", map[string]any{"zone_id": zone, "record_name": "www.example.com", "type": "A", "records": strs("192.0.2.1", "192.0.2.2")})
	st := o.create("")
	if st["ttl"] != num(300) || st["id"] != zone+"_www.example.com_A" {
		t.Errorf("state %v: want ttl 300 and id ZONE_www.example.com_A", st)
	}
	o.steady("after create")
	upsert(t, env, zone, "www.example.com", types.RRTypeA, 60, "198.51.100.7")
	drifted := o.refresh()
	if drifted["ttl"] != num(60) || !cmp.Equal(drifted["records"], strs("198.51.100.7")) {
		t.Fatalf("read after the change outside ferry: ttl %v, records %v", drifted["ttl"], drifted["records"])
	}
	o.update()
	o.steady("after the update")
	if got := recordValues(t, env, zone, "www.example.com", types.RRTypeA); got != "300 192.0.2.1,192.0.2.2" {
		t.Errorf("in Route53 after the update: %s", got)
	}

	// The values in another order are the same record.
	o.config["records"] = strs("192.0.2.2", "192.0.2.1")
	o.update()
	o.steady("after reordering")

	o.delete() // with the values it has
	if got := recordValues(t, env, zone, "www.example.com", types.RRTypeA); got != "" {
		t.Errorf("in Route53 after delete: %s", got)
	}
	if got := o.refresh(); got != nil {
		t.Errorf("read of a deleted record: %v", got)
	}
}

// TestRoute53RecordExists: ferry refuses to create a record that exists
// (AWS refuses such a CREATE, moto does not, so ferry looks first) and
// says to import it; the import takes it over as it is.
func TestRoute53RecordExists(t *testing.T) {
	env := awstest.New(t)
	zone := testZone(t, env, "example.com")
	upsert(t, env, zone, "_dmarc.example.com", types.RRTypeTxt, 3600, `"v=DMARC1; p=none"`)
	r := resource(t, configure(t, env, nil), aws.Route53RecordType)
	o := newObject(t, r, "dmarc", map[string]any{"zone_id": zone, "record_name": "_dmarc.example.com", "type": "TXT", "records": strs(`"v=DMARC1; p=reject"`)})
	p := o.plan()
	_, err := r.Apply(t.Context(), providers.ApplyRequest{Addr: o.addr, Action: providers.Create, Planned: p.Planned, Token: "tok-exists"})
	id := zone + "__dmarc.example.com_TXT"
	for _, want := range []string{"create aws.route53_record.dmarc", "exists already", "ferry import aws.route53_record.dmarc " + id} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("create over an existing record: error %v does not say %q", err, want)
		}
	}
	if got := recordValues(t, env, zone, "_dmarc.example.com", types.RRTypeTxt); got != `3600 "v=DMARC1; p=none"` {
		t.Errorf("the record after the refused create: %s", got)
	}
	if a, err := r.(providers.Adopter).Adopt(t.Context(), providers.AdoptRequest{Addr: o.addr, Token: "tok-exists", Planned: p.Planned}); err != nil || a.State != nil {
		t.Errorf("Adopt of a record with other values than planned: %v, %v; want nothing", a.State, err)
	}

	imp, err := r.(providers.Importer).Import(t.Context(), providers.ImportRequest{Addr: o.addr, ID: id})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"zone_id": zone, "record_name": "_dmarc.example.com", "type": "TXT", "ttl": num(3600), "records": strs(`"v=DMARC1; p=none"`), "alias": nil, "id": id}
	if diff := cmp.Diff(want, imp.State); diff != "" {
		t.Errorf("import (-want +got):\n%s", diff)
	}
	o.state = imp.State
	o.update()
	// The configuration gives no ttl: the default.
	if got := recordValues(t, env, zone, "_dmarc.example.com", types.RRTypeTxt); got != `300 "v=DMARC1; p=reject"` {
		t.Errorf("the imported record after the update: %s", got)
	}
	for _, bad := range []string{"nonsense", zone + "_www.example.com_AAAAA", zone + "_nope.example.com_A"} {
		_, err := r.(providers.Importer).Import(t.Context(), providers.ImportRequest{Addr: o.addr, ID: bad})
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", bad)) {
			t.Errorf("import of %q: %v", bad, err)
		}
	}
}

// TestRoute53RecordAdopt: a killed create either made the record or did
// not: Adopt finds it when it holds the planned values.
func TestRoute53RecordAdopt(t *testing.T) {
	env := awstest.New(t)
	zone := testZone(t, env, "example.com")
	r := resource(t, configure(t, env, nil), aws.Route53RecordType)
	o := newObject(t, r, "www", map[string]any{"zone_id": zone, "record_name": "WWW.example.com.", "type": "A", "records": strs("192.0.2.1", "192.0.2.2")})
	p := o.plan()
	adopt := func() map[string]any {
		t.Helper()
		resp, err := r.(providers.Adopter).Adopt(t.Context(), providers.AdoptRequest{Addr: o.addr, Token: "tok", Planned: p.Planned})
		if err != nil {
			t.Fatal(err)
		}
		return resp.State
	}
	if got := adopt(); got != nil {
		t.Errorf("before the create: %v", got)
	}
	// The killed create made it; Route53 keeps the values in its order.
	upsert(t, env, zone, "www.example.com", types.RRTypeA, 300, "192.0.2.2", "192.0.2.1")
	got := adopt()
	want := map[string]any{"zone_id": zone, "record_name": "WWW.example.com.", "type": "A", "ttl": num(300), "records": strs("192.0.2.1", "192.0.2.2"), "alias": nil, "id": zone + "_www.example.com_A"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("adopted (-want +got):\n%s", diff)
	}
	o.state = got
	o.steady("after adoption")
	upsert(t, env, zone, "www.example.com", types.RRTypeA, 60, "192.0.2.1", "192.0.2.2")
	if got := adopt(); got != nil {
		t.Errorf("a record of another ttl than planned is not the create's: %v", got)
	}
}

// TestRoute53RecordAlias: an alias of another record of the zone, then
// the same name with values instead, in place.
func TestRoute53RecordAlias(t *testing.T) {
	env := awstest.New(t)
	zone := testZone(t, env, "example.com")
	r := resource(t, configure(t, env, nil), aws.Route53RecordType)
	newObject(t, r, "www", map[string]any{"zone_id": zone, "record_name": "www.example.com", "type": "A", "records": strs("192.0.2.1")}).create("")
	o := newObject(t, r, "apex", map[string]any{"zone_id": zone, "record_name": "example.com", "type": "A", "alias": map[string]any{"zone_id": zone, "name": "www.example.com"}})
	st := o.create("")
	if st["ttl"] != nil || st["records"] != nil {
		t.Errorf("alias state %v: want no ttl and no records", st)
	}
	o.steady("after create")
	imp, err := r.(providers.Importer).Import(t.Context(), providers.ImportRequest{Addr: o.addr, ID: st["id"].(string)})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]any{"zone_id": zone, "name": "www.example.com", "evaluate_target_health": false}; !cmp.Equal(imp.State["alias"], want) {
		t.Errorf("imported alias %v, want %v", imp.State["alias"], want)
	}
	delete(o.config, "alias")
	o.config["records"] = strs("192.0.2.9")
	o.update()
	o.steady("after turning the alias into values")
	if got := recordValues(t, env, zone, "example.com", types.RRTypeA); got != "300 192.0.2.9" {
		t.Errorf("in Route53: %s", got)
	}
}

// TestRoute53RecordPages: records of one zone are read a page at a time,
// every zone of a batch on its own, and a zone deleted outside ferry
// makes its records gone.
func TestRoute53RecordPages(t *testing.T) {
	env := awstest.New(t)
	c := configure(t, env, nil)
	r := c.Resources()[aws.Route53RecordType].(providers.BatchReader)
	big, small, gone := testZone(t, env, "big.example"), testZone(t, env, "small.example"), testZone(t, env, "gone.example")
	var reqs []providers.ReadRequest
	add := func(zone, name string) {
		o := newObject(t, resource(t, c, aws.Route53RecordType), name, map[string]any{"zone_id": zone, "record_name": name, "type": "A", "records": strs("192.0.2.1")})
		reqs = append(reqs, providers.ReadRequest{Addr: o.addr, Prior: o.create("")})
	}
	for i := range 7 {
		add(big, fmt.Sprintf("h%d.big.example", i))
	}
	add(small, "www.small.example")
	add(gone, "www.gone.example")
	if _, err := c.Resources()[aws.Route53RecordType].Apply(t.Context(), providers.ApplyRequest{Addr: "x", Action: providers.Delete, Prior: reqs[8].Prior}); err != nil {
		t.Fatal(err)
	}
	if _, err := r53(env).DeleteHostedZone(t.Context(), &route53.DeleteHostedZoneInput{Id: awssdk.String(gone)}); err != nil {
		t.Fatal(err)
	}

	aws.SetPageSize(c, 3)
	before := c.Calls().Of("Route 53.ListResourceRecordSets")
	resps, err := r.ReadMany(t.Context(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	// big.example holds 9 record sets (with its NS and SOA): 3 pages;
	// small.example and gone.example one call each.
	if n := c.Calls().Of("Route 53.ListResourceRecordSets") - before; n != 5 {
		t.Errorf("ReadMany made %d ListResourceRecordSets calls, want 5: %v", n, c.Calls().Counts())
	}
	for i, resp := range resps {
		switch {
		case i == 8 && resp.State != nil:
			t.Errorf("%s in a deleted zone: %v", reqs[i].Addr, resp.State)
		case i < 8 && !cmp.Equal(resp.State, reqs[i].Prior):
			t.Errorf("%s: read %v, want %v", reqs[i].Addr, resp.State, reqs[i].Prior)
		}
	}
}

func TestRoute53RecordPlanErrors(t *testing.T) {
	env := awstest.New(t)
	r := resource(t, configure(t, env, nil), aws.Route53RecordType)
	base := map[string]any{"zone_id": "Z1", "record_name": "www.example.com", "type": "A"}
	tests := []struct {
		args map[string]any
		want string
	}{
		{map[string]any{}, "give records (the values) or alias"},
		{map[string]any{"records": strs("192.0.2.1"), "alias": map[string]any{"zone_id": "Z2", "name": "x.example.com"}}, "either records or alias, not both"},
		{map[string]any{"ttl": num(60), "alias": map[string]any{"zone_id": "Z2", "name": "x.example.com"}}, "an alias takes no ttl"},
		{map[string]any{"alias": map[string]any{"zone_id": "Z2"}}, "alias needs zone_id and name"},
		{map[string]any{"alias": map[string]any{"zone_id": "Z2", "name": "x", "ttl": num(1)}}, `unknown key "ttl"`},
		{map[string]any{"records": []any{}}, `"records" is empty`},
		{map[string]any{"records": []any{num(1)}}, "records[0] = 1: want a non-empty string"},
		{map[string]any{"records": strs("x"), "ttl": num(-1)}, "want whole seconds"},
		{map[string]any{"records": strs("x"), "type": "a"}, `"type" = "a": want one of`},
		{map[string]any{"records": strs("x"), "record_name": "."}, `"record_name" is empty`},
	}
	for _, tt := range tests {
		args := map[string]any{}
		for k, v := range base {
			args[k] = v
		}
		for k, v := range tt.args {
			args[k] = v
		}
		o := newObject(t, r, "rec", args)
		_, err := o.r.Plan(t.Context(), providers.PlanRequest{Addr: o.addr, Config: o.config})
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "aws.route53_record.rec") {
			t.Errorf("plan %v: error %v, want one naming aws.route53_record.rec and saying %q", tt.args, err, tt.want)
		}
	}
}
