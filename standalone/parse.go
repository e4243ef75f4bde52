package standalone

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"

	istiov1 "istio.io/client-go/pkg/apis/networking/v1"
	istiov1alpha3 "istio.io/client-go/pkg/apis/networking/v1alpha3"
	istiov1beta1 "istio.io/client-go/pkg/apis/networking/v1beta1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1alpha3 "sigs.k8s.io/gateway-api/apis/v1alpha3"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"
	"sigs.k8s.io/yaml"

	portico "github.com/portico-dev/portico/api/v1alpha1"
	"github.com/portico-dev/portico/controllers/translate"
)

// Scheme knows every kind standalone mode reads.
var Scheme = runtime.NewScheme()

var codecs serializer.CodecFactory

func init() {
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, discoveryv1.AddToScheme, networkingv1.AddToScheme,
		gatewayv1.Install, gatewayv1beta1.Install, gatewayv1alpha3.Install,
		istiov1.AddToScheme, istiov1alpha3.AddToScheme, istiov1beta1.AddToScheme, portico.AddToScheme,
	} {
		if err := add(Scheme); err != nil {
			panic(err)
		}
	}
	codecs = serializer.NewCodecFactory(Scheme, serializer.EnableStrict)
}

// FileError is a manifest file, or a document in it, that could not be
// read or was refused, located by file and line.
// Line is 0 when the error concerns the whole file: not readable, not a
// regular file, or too large.
type FileError struct {
	File string
	Line int
	Err  error
}

func (e *FileError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %v", e.File, e.Err)
	}
	return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
}

func (e *FileError) Unwrap() error { return e.Err }

// document is one YAML document of a file and the line it starts on.
type document struct {
	line int
	data []byte
}

// splitDocuments cuts a multi-document YAML stream at "---" lines.
func splitDocuments(data []byte) []document {
	var docs []document
	start, startLine := 0, 1
	i, line := 0, 1 // the start of a line, and its number
	for {
		if i < len(data) && data[i] == '-' {
			end, next := len(data), len(data)+1
			if e := bytes.IndexByte(data[i:], '\n'); e >= 0 {
				end, next = i+e, i+e+1
			}
			l := bytes.TrimRight(data[i:end], " \t\r")
			if bytes.Equal(l, []byte("---")) || bytes.HasPrefix(l, []byte("--- ")) {
				docs = append(docs, document{startLine, data[start:i]})
				start, startLine = min(next, len(data)), line+1
			}
		}
		// Only lines starting with '-' can separate: skip to the next
		// one, counting the lines passed.
		k := bytes.Index(data[i:], []byte("\n-"))
		if k < 0 {
			break
		}
		line += bytes.Count(data[i:i+k+1], []byte("\n"))
		i += k + 1
	}
	return append(docs, document{startLine, data[start:]})
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// Parse decodes every document of one YAML file into typed objects. Empty
// documents are skipped; kinds standalone mode does not serve are returned
// in ignored ("apps/v1 Deployment"). The first bad document stops parsing
// with a *FileError; a key repeated in one mapping is such an error, as for
// the API server's strict field validation.
func Parse(file string, data []byte) (objs []runtime.Object, ignored []string, err error) {
	ps, ignored, err := parse(file, data)
	if err != nil {
		return nil, nil, err
	}
	return objects(ps), ignored, nil
}

// parsed is one decoded object and the line its document's content starts on.
type parsed struct {
	obj  runtime.Object
	gvk  schema.GroupVersionKind
	line int
}

func objects(ps []parsed) []runtime.Object {
	objs := make([]runtime.Object, len(ps))
	for i, p := range ps {
		objs[i] = p.obj
	}
	return objs
}

func parse(file string, data []byte) (objs []parsed, ignored []string, err error) {
	for _, d := range splitDocuments(data) {
		p, ign, err := parseDocument(file, d)
		if err != nil {
			return nil, nil, err
		}
		if ign != "" {
			ignored = append(ignored, ign)
		}
		if p != nil {
			objs = append(objs, *p)
		}
	}
	return objs, ignored, nil
}

// parseDocument decodes one document: an object, the kind of an ignored
// one, or neither for an empty document.
func parseDocument(file string, d document) (*parsed, string, error) {
	if len(bytes.TrimSpace(stripComments(d.data))) == 0 {
		return nil, "", nil
	}
	js, yerr := yaml.YAMLToJSONStrict(d.data)
	if yerr != nil {
		if line, derr, ok := duplicateKey(d.data, d.line, yerr); ok {
			return nil, "", &FileError{file, line, derr}
		}
		line := d.line
		if m := yamlLine.FindStringSubmatch(yerr.Error()); m != nil {
			n, _ := strconv.Atoi(m[1])
			line += n - 1
		}
		return nil, "", &FileError{file, line, yerr}
	}
	if bytes.Equal(bytes.TrimSpace(js), []byte("null")) {
		return nil, "", nil
	}
	obj, gvk, derr := codecs.UniversalDeserializer().Decode(js, nil, nil)
	if derr != nil {
		if runtime.IsNotRegisteredError(derr) && gvk != nil && gvk.Kind != "" {
			return nil, gvk.GroupVersion().String() + " " + gvk.Kind, nil
		}
		return nil, "", &FileError{file, d.line, conciseDecodeError(derr)}
	}
	p := &parsed{obj: obj, line: d.line + leadingBlankLines(d.data)}
	if gvk != nil {
		p.gvk = *gvk
	}
	return p, "", nil
}

// leadingBlankLines counts the empty and comment lines a document starts with.
func leadingBlankLines(b []byte) int {
	n := 0
	for len(b) > 0 {
		l, rest, _ := bytes.Cut(b, []byte("\n"))
		if t := bytes.TrimSpace(l); len(t) > 0 && t[0] != '#' {
			break
		}
		n, b = n+1, rest
	}
	return n
}

func stripComments(b []byte) []byte {
	var out []byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if t := bytes.TrimSpace(l); len(t) > 0 && t[0] != '#' {
			out = append(out, t...)
		}
	}
	return out
}

// AddToSnapshot appends objects of the kinds translation reads to s,
// defaulting an empty namespace to "default" as kubectl does.
func AddToSnapshot(s *translate.Snapshot, objs []runtime.Object) {
	for _, o := range objs {
		switch v := o.(type) {
		case *networkingv1.IngressClass:
			s.IngressClasses = append(s.IngressClasses, *v)
		case *networkingv1.Ingress:
			defaultNS(&v.Namespace)
			s.Ingresses = append(s.Ingresses, *v)
		case *corev1.Service:
			defaultNS(&v.Namespace)
			s.Services = append(s.Services, *v)
		case *discoveryv1.EndpointSlice:
			defaultNS(&v.Namespace)
			s.EndpointSlices = append(s.EndpointSlices, *v)
		case *corev1.Secret:
			defaultNS(&v.Namespace)
			s.Secrets = append(s.Secrets, *v)
		case *corev1.Namespace:
			s.Namespaces = append(s.Namespaces, *v)
		case *gatewayv1.GatewayClass:
			s.GatewayClasses = append(s.GatewayClasses, *v)
		case *gatewayv1.Gateway:
			defaultNS(&v.Namespace)
			s.Gateways = append(s.Gateways, *v)
		case *gatewayv1.HTTPRoute:
			defaultNS(&v.Namespace)
			s.HTTPRoutes = append(s.HTTPRoutes, *v)
		case *gatewayv1.GRPCRoute:
			defaultNS(&v.Namespace)
			s.GRPCRoutes = append(s.GRPCRoutes, *v)
		case *gatewayv1.TLSRoute:
			defaultNS(&v.Namespace)
			s.TLSRoutes = append(s.TLSRoutes, *v)
		case *gatewayv1.TCPRoute:
			defaultNS(&v.Namespace)
			s.TCPRoutes = append(s.TCPRoutes, *v)
		case *gatewayv1.ReferenceGrant:
			defaultNS(&v.Namespace)
			s.ReferenceGrants = append(s.ReferenceGrants, *v)
		case *gatewayv1beta1.ReferenceGrant:
			defaultNS(&v.Namespace)
			s.ReferenceGrants = append(s.ReferenceGrants, gatewayv1.ReferenceGrant(*v))
		case *gatewayv1.BackendTLSPolicy:
			defaultNS(&v.Namespace)
			s.BackendTLSPolicies = append(s.BackendTLSPolicies, *v)
		case *gatewayv1alpha3.BackendTLSPolicy:
			defaultNS(&v.Namespace)
			s.BackendTLSPolicies = append(s.BackendTLSPolicies, gatewayv1.BackendTLSPolicy(*v))
		case *corev1.Pod:
			defaultNS(&v.Namespace)
			s.Pods = append(s.Pods, metav1.PartialObjectMetadata{TypeMeta: v.TypeMeta, ObjectMeta: v.ObjectMeta})
		case *corev1.ConfigMap:
			defaultNS(&v.Namespace)
			s.ConfigMaps = append(s.ConfigMaps, *v)
		case *portico.SecurityPolicy:
			defaultNS(&v.Namespace)
			s.SecurityPolicies = append(s.SecurityPolicies, *v)
		case *portico.TrafficPolicy:
			defaultNS(&v.Namespace)
			s.TrafficPolicies = append(s.TrafficPolicies, *v)
		default:
			addIstio(s, o)
		}
	}
}

func defaultNS(ns *string) {
	if *ns == "" {
		*ns = "default"
	}
}

// conciseDecodeError replaces decoder errors that quote the whole document
// with a short message.
func conciseDecodeError(err error) error {
	switch {
	case runtime.IsMissingKind(err):
		return fmt.Errorf("document has no kind")
	case runtime.IsMissingVersion(err):
		return fmt.Errorf("document has no apiVersion")
	}
	return err
}
