package translate

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// ParametersServiceType is the key of a GatewayClass's or Gateway's
// parameters ConfigMap that chooses the type of the Gateway's Service.
const ParametersServiceType = "serviceType"

// gatewayParams are the settings a parametersRef ConfigMap may carry.
type gatewayParams struct {
	serviceType string
}

// parametersConfigMap reads a parameters ConfigMap: only a core ConfigMap
// with known keys and values is valid.
func (t *gatewayProcessor) parametersConfigMap(group, kind, ns, name string) (gatewayParams, error) {
	var p gatewayParams
	if group != "" || kind != "ConfigMap" {
		return p, fmt.Errorf("parametersRef kind %s/%s is not supported (ConfigMap is)", group, kind)
	}
	if ns == "" {
		return p, fmt.Errorf("parametersRef to ConfigMap %s needs a namespace", name)
	}
	cm := t.configMap(ns, name)
	if cm == nil {
		return p, fmt.Errorf("parametersRef: ConfigMap %s/%s not found", ns, name)
	}
	keys := make([]string, 0, len(cm.Data))
	for k := range cm.Data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := cm.Data[k]
		switch k {
		case ParametersServiceType:
			switch corev1.ServiceType(v) {
			case corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeNodePort, corev1.ServiceTypeClusterIP:
				p.serviceType = v
			default:
				return p, fmt.Errorf("parametersRef: ConfigMap %s/%s: %s %q is not LoadBalancer, NodePort or ClusterIP", ns, name, k, v)
			}
		default:
			return p, fmt.Errorf("parametersRef: ConfigMap %s/%s: unknown key %q (known: %s)", ns, name, k, ParametersServiceType)
		}
	}
	return p, nil
}

// classParameters resolves a GatewayClass's parametersRef.
func (t *gatewayProcessor) classParameters(gc *gatewayv1.GatewayClass) (gatewayParams, error) {
	ref := gc.Spec.ParametersRef
	if ref == nil {
		return gatewayParams{}, nil
	}
	ns := ""
	if ref.Namespace != nil {
		ns = string(*ref.Namespace)
	}
	return t.parametersConfigMap(string(ref.Group), string(ref.Kind), ns, ref.Name)
}

// gatewayParameters merges a Gateway's own parametersRef over its class's.
func (t *gatewayProcessor) gatewayParameters(gw *gatewayv1.Gateway, class gatewayParams) (gatewayParams, error) {
	if gw.Spec.Infrastructure == nil || gw.Spec.Infrastructure.ParametersRef == nil {
		return class, nil
	}
	ref := gw.Spec.Infrastructure.ParametersRef
	p, err := t.parametersConfigMap(string(ref.Group), string(ref.Kind), gw.Namespace, ref.Name)
	if err != nil {
		return class, err
	}
	if p.serviceType == "" {
		p.serviceType = class.serviceType
	}
	return p, nil
}

// ParametersRefs lists the ConfigMaps GatewayClasses and Gateways name as
// parameters, as namespace/name, so the controller can read them.
func ParametersRefs(classes []gatewayv1.GatewayClass, gateways []gatewayv1.Gateway) []string {
	var out []string
	for i := range classes {
		if ref := classes[i].Spec.ParametersRef; ref != nil && ref.Group == "" && ref.Kind == "ConfigMap" && ref.Namespace != nil {
			out = append(out, string(*ref.Namespace)+"/"+ref.Name)
		}
	}
	for i := range gateways {
		gw := &gateways[i]
		if inf := gw.Spec.Infrastructure; inf != nil && inf.ParametersRef != nil && inf.ParametersRef.Group == "" && inf.ParametersRef.Kind == "ConfigMap" {
			out = append(out, gw.Namespace+"/"+inf.ParametersRef.Name)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
