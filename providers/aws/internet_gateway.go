package aws

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
)

// InternetGatewayType is an EC2 internet gateway.
const InternetGatewayType = "aws.internet_gateway"

// defaultRoute is the destination of the route route_default adds.
const defaultRoute = "0.0.0.0/0"

func internetGatewaySchema() spec.Schema {
	return spec.Schema{
		Type: InternetGatewayType,
		Doc:  "An EC2 internet gateway, attached to a VPC; with route_default = True the VPC's main route table sends 0.0.0.0/0 through it, so that instances with public IPs are reachable.",
		Attrs: []spec.Attr{
			{Name: "vpc_id", Kind: spec.KindString, Optional: true, Doc: "The VPC it is attached to; null: detached. Changes in place: the gateway is detached from the old VPC, then attached to the new one."},
			{Name: "route_default", Kind: spec.KindBool, Optional: true, Default: false, Doc: "Whether ferry adds the route 0.0.0.0/0 through the gateway to the main route table of its VPC, and removes it when the gateway is detached or deleted. Without it, nothing in the VPC reaches the internet until a route says so. A default route the table has already (to something else) is an error, not replaced. False: ferry leaves the route table alone."},
			{Name: "tags", Kind: spec.KindMap, Optional: true, Default: map[string]any{}, Doc: "Tags; change in place."},
			{Name: "id", Kind: spec.KindString, Computed: true, Doc: "The gateway ID, igw-..."},
		},
	}
}

// internetGateway is aws.internet_gateway.
type internetGateway struct{ c *Client }

var (
	_ providers.BatchReader = (*internetGateway)(nil)
	_ providers.Importer    = (*internetGateway)(nil)
	_ providers.Adopter     = (*internetGateway)(nil)
)

func (g *internetGateway) client() *Client     { return g.c }
func (g *internetGateway) Schema() spec.Schema { return internetGatewaySchema() }

// gatewayView is what a gateway's state is made of: the gateway, and
// whether the main route table of the VPC it is attached to has the
// default route through it.
type gatewayView struct {
	gw     types.InternetGateway
	routed bool
}

func (g *internetGateway) kind() ec2Kind[gatewayView] {
	return ec2Kind[gatewayView]{
		c: g.c, noun: "internet gateway", prefix: "igw-",
		find: g.c.findGatewayViews,
		tokenIDs: func(ctx context.Context, token string) ([]string, error) {
			gws, err := g.c.findInternetGateways(ctx, tokenFilter(token))
			return mapSlice(gws, gatewayID), err
		},
		state: gatewayState,
	}
}

// attachedVpc is the VPC a gateway is attached to, "" when none.
func attachedVpc(gw types.InternetGateway) string {
	for _, a := range gw.Attachments {
		if a.State != types.AttachmentStatusDetached && a.State != types.AttachmentStatusDetaching {
			return aws.ToString(a.VpcId)
		}
	}
	return ""
}

// findGatewayViews reads the gateways with the given IDs that exist: per
// page one DescribeInternetGateways and, when some are attached, one
// DescribeRouteTables for the main tables of their VPCs.
func (c *Client) findGatewayViews(ctx context.Context, ids []string) (map[string]gatewayView, error) {
	gws, err := c.findInternetGatewaysByIDs(ctx, ids)
	if err != nil || len(gws) == 0 {
		return nil, err
	}
	var vpcs []string
	for _, gw := range gws {
		if v := attachedVpc(gw); v != "" {
			vpcs = append(vpcs, v)
		}
	}
	rts := map[string]types.RouteTable{}
	if len(vpcs) > 0 {
		if rts, err = c.findMainRouteTables(ctx, vpcs); err != nil {
			return nil, err
		}
	}
	out := map[string]gatewayView{}
	for id, gw := range gws {
		rt := rts[attachedVpc(gw)]
		out[id] = gatewayView{gw: gw, routed: defaultRouteVia(rt) == id}
	}
	return out, nil
}

// defaultRouteVia is the gateway of rt's default route, "" when it has
// none or it goes elsewhere (defaultTarget says where).
func defaultRouteVia(rt types.RouteTable) string {
	for _, r := range rt.Routes {
		if aws.ToString(r.DestinationCidrBlock) == defaultRoute {
			return aws.ToString(r.GatewayId)
		}
	}
	return ""
}

// defaultTarget names where rt's default route goes, "" when it has none.
func defaultTarget(rt types.RouteTable) string {
	for _, r := range rt.Routes {
		if aws.ToString(r.DestinationCidrBlock) != defaultRoute {
			continue
		}
		for _, t := range []*string{r.GatewayId, r.NatGatewayId, r.InstanceId, r.NetworkInterfaceId, r.TransitGatewayId, r.VpcPeeringConnectionId} {
			if aws.ToString(t) != "" {
				return aws.ToString(t)
			}
		}
		return "another target"
	}
	return ""
}

// gatewayState is a gateway's state. route_default reads what the route
// table has where ferry owns the route (prior true, or an import);
// with prior false ferry leaves the table alone, and a detached gateway
// keeps what was asked, having no table to check.
func gatewayState(o gatewayView, prior map[string]any) map[string]any {
	vpc := attachedVpc(o.gw)
	routeDefault := o.routed
	switch {
	case prior != nil && !boolArg(prior, "route_default"):
		routeDefault = false
	case vpc == "" && prior != nil:
		routeDefault = true
	}
	return map[string]any{
		"id":            gatewayID(o.gw),
		"vpc_id":        nullable(vpc),
		"route_default": routeDefault,
		"tags":          userTags(o.gw.Tags),
	}
}

func (g *internetGateway) Plan(_ context.Context, req providers.PlanRequest) (providers.PlanResponse, error) {
	return planNet(internetGatewaySchema(), req)
}

func (g *internetGateway) Apply(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	return applyFuncs{create: g.create, update: g.update, delete: g.delete}.apply(ctx, req)
}

// create makes the gateway, tagged with the token, attaches it and adds
// the default route. A failure after the gateway exists returns it as it
// is, so that the engine records it (tainted).
func (g *internetGateway) create(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	if err := checkCtx(ctx, "create", req.Addr); err != nil {
		return providers.ApplyResponse{}, err
	}
	args, tags, err := netArgs(internetGatewaySchema(), "create", req)
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	out, err := g.c.ec2.CreateInternetGateway(ctx, &ec2.CreateInternetGatewayInput{
		TagSpecifications: tagSpecs(types.ResourceTypeInternetGateway, tags, req.Token),
	})
	if err != nil {
		return providers.ApplyResponse{}, g.c.fail("create", req.Addr, callErr("ec2:CreateInternetGateway", err))
	}
	id := gatewayID(*out.InternetGateway)
	vpc := str(args, "vpc_id")
	if vpc != "" {
		err = g.attach(ctx, id, vpc)
	}
	if err == nil && vpc != "" && boolArg(args, "route_default") {
		err = g.addRoute(ctx, id, vpc)
	}
	var o *gatewayView
	if err == nil {
		o, err = g.kind().fresh(ctx, id)
	}
	if err != nil {
		return g.kind().createFailed(ctx, req.Addr, id, args, err)
	}
	return providers.ApplyResponse{State: gatewayState(*o, args)}, nil
}

func (g *internetGateway) attach(ctx context.Context, id, vpc string) error {
	_, err := g.c.ec2.AttachInternetGateway(ctx, &ec2.AttachInternetGatewayInput{InternetGatewayId: aws.String(id), VpcId: aws.String(vpc)})
	return callErr("ec2:AttachInternetGateway", err)
}

// detach detaches gateway id from vpc, waiting while EC2 says the VPC
// still maps public addresses (instances being terminated); detached
// already is success. moto never refuses a detach (nor a second gateway
// in one VPC), so no test covers that refusal.
func (g *internetGateway) detach(ctx context.Context, verb, addr, id, vpc string) error {
	err := g.c.whileInUse(ctx, "ec2:DetachInternetGateway", func() error {
		_, err := g.c.ec2.DetachInternetGateway(ctx, &ec2.DetachInternetGatewayInput{InternetGatewayId: aws.String(id), VpcId: aws.String(vpc)})
		return callErr("ec2:DetachInternetGateway", err)
	})
	switch code := errorCode(err); {
	case err == nil || code == "Gateway.NotAttached" || isNotFound(err):
		return nil
	case code == "DependencyViolation":
		return g.c.inUse(ctx, verb, addr, err, "VPC", vpc, g.c.publicAddresses)
	}
	return err
}

// publicAddresses lists the network interfaces of VPC vpc that have a
// public address: EC2 detaches no internet gateway from a VPC that has
// some.
func (c *Client) publicAddresses(ctx context.Context, vpc string) ([]string, error) {
	enis, err := c.findNetworkInterfaces(ctx, filter("vpc-id", vpc))
	var out []string
	for _, e := range enis {
		if e.Association != nil && aws.ToString(e.Association.PublicIp) != "" {
			out = append(out, aws.ToString(e.NetworkInterfaceId)+" (public address "+aws.ToString(e.Association.PublicIp)+")")
		}
	}
	return out, err
}

// addRoute adds the default route through gateway id to the main route
// table of vpc; there already is success, a default route elsewhere an
// error.
func (g *internetGateway) addRoute(ctx context.Context, id, vpc string) error {
	rt, err := g.c.findMainRouteTable(ctx, vpc)
	switch {
	case err != nil:
		return err
	case rt == nil:
		return fmt.Errorf("VPC %s has no main route table to add the default route to", vpc)
	}
	switch target := defaultTarget(*rt); target {
	case id:
		return nil
	case "":
	default:
		return fmt.Errorf("route_default: the main route table %s of %s sends %s to %s already: remove that route, or set route_default = False and route it yourself", aws.ToString(rt.RouteTableId), vpc, defaultRoute, target)
	}
	_, err = g.c.ec2.CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: rt.RouteTableId, DestinationCidrBlock: aws.String(defaultRoute), GatewayId: aws.String(id)})
	return callErr("ec2:CreateRoute", err)
}

// removeRoute removes the default route of vpc's main route table if it
// goes through gateway id (and only then).
func (g *internetGateway) removeRoute(ctx context.Context, id, vpc string) error {
	rt, err := g.c.findMainRouteTable(ctx, vpc)
	if err != nil || rt == nil || defaultRouteVia(*rt) != id {
		return err
	}
	_, err = g.c.ec2.DeleteRoute(ctx, &ec2.DeleteRouteInput{RouteTableId: rt.RouteTableId, DestinationCidrBlock: aws.String(defaultRoute)})
	if isNotFound(err) {
		return nil
	}
	return callErr("ec2:DeleteRoute", err)
}

// update changes tags, the attachment and the default route in place:
// the route leaves the old VPC before the gateway does, and comes to the
// new one after it.
func (g *internetGateway) update(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	if err := checkCtx(ctx, "update", req.Addr); err != nil {
		return providers.ApplyResponse{}, err
	}
	id, err := idOf("update", req.Addr, req.Prior)
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	args, tags, err := netArgs(internetGatewaySchema(), "update", req)
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	had, _ := stringMap(req.Addr, "tags", req.Prior["tags"])
	oldVpc, newVpc := str(req.Prior, "vpc_id"), str(args, "vpc_id")
	oldRoute, newRoute := boolArg(req.Prior, "route_default"), boolArg(args, "route_default")
	moved := oldVpc != newVpc
	err = g.c.updateTags(ctx, id, had, tags)
	if err == nil && oldVpc != "" && oldRoute && (moved || !newRoute) {
		err = g.removeRoute(ctx, id, oldVpc)
	}
	if err == nil && moved && oldVpc != "" {
		err = g.detach(ctx, "update", req.Addr, id, oldVpc)
	}
	if err == nil && moved && newVpc != "" {
		err = g.attach(ctx, id, newVpc)
	}
	if err == nil && newVpc != "" && newRoute && (moved || !oldRoute) {
		err = g.addRoute(ctx, id, newVpc)
	}
	if err != nil {
		return g.kind().updateFailed(ctx, req.Addr, id, err)
	}
	return providers.ApplyResponse{State: updatedState(req.Prior, args)}, nil
}

// delete removes the default route it added, detaches the gateway (as
// EC2 sees it attached now) and deletes it.
func (g *internetGateway) delete(ctx context.Context, req providers.ApplyRequest) error {
	if err := checkCtx(ctx, "delete", req.Addr); err != nil {
		return err
	}
	id, err := idOf("delete", req.Addr, req.Prior)
	if err != nil {
		return err
	}
	o, err := g.kind().one(ctx, id)
	switch {
	case err != nil:
		return g.c.fail("delete", req.Addr, err)
	case o == nil:
		return nil // gone already: a crashed apply deletes again
	}
	if vpc := attachedVpc(o.gw); vpc != "" {
		if boolArg(req.Prior, "route_default") {
			if err := g.removeRoute(ctx, id, vpc); err != nil {
				return g.c.fail("delete", req.Addr, err)
			}
		}
		if err := g.detach(ctx, "delete", req.Addr, id, vpc); err != nil {
			return g.c.failNet("delete", req.Addr, err)
		}
	}
	_, err = g.c.ec2.DeleteInternetGateway(ctx, &ec2.DeleteInternetGatewayInput{InternetGatewayId: aws.String(id)})
	if err != nil && !isNotFound(err) {
		return g.c.fail("delete", req.Addr, callErr("ec2:DeleteInternetGateway", err))
	}
	return nil
}

func (g *internetGateway) Read(ctx context.Context, req providers.ReadRequest) (providers.ReadResponse, error) {
	return g.kind().read(ctx, req)
}

// ReadMany reads the gateways a page of IDs at a time
// (findGatewayViews).
func (g *internetGateway) ReadMany(ctx context.Context, reqs []providers.ReadRequest) ([]providers.ReadResponse, error) {
	return g.kind().readMany(ctx, reqs)
}

// Import adopts a gateway by its ID.
func (g *internetGateway) Import(ctx context.Context, req providers.ImportRequest) (providers.ImportResponse, error) {
	return g.kind().importID(ctx, req)
}

// Adopt finds the gateway a create with req.Token made, by its token tag.
func (g *internetGateway) Adopt(ctx context.Context, req providers.AdoptRequest) (providers.ReadResponse, error) {
	return g.kind().adopt(ctx, req)
}
