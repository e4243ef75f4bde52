//go:build conformance

package conformance

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientset "k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/gateway-api/apis/v1alpha2"
	"sigs.k8s.io/gateway-api/apis/v1alpha3"
	xv1alpha1 "sigs.k8s.io/gateway-api/apisx/v1alpha1"
	"sigs.k8s.io/gateway-api/conformance"
	confv1 "sigs.k8s.io/gateway-api/conformance/apis/v1"
	conformanceconfig "sigs.k8s.io/gateway-api/conformance/utils/config"
	"sigs.k8s.io/gateway-api/conformance/utils/suite"

	harness "github.com/portico-dev/portico/envtest"
)

var (
	runTest  = flag.String("portico-run-test", "", "run only this conformance test (ShortName)")
	profiles = flag.String("portico-profiles", "GATEWAY-HTTP,GATEWAY-TLS,GATEWAY-GRPC", "conformance profiles to run")
	version  = flag.String("portico-version", "dev", "Portico version written into the report")
	report   = flag.String("portico-report", "", "where to write the ConformanceReport (default reports/v1.6.3/portico-<version>-report.yaml)")
)

// TestConformance starts the cluster harness with Portico deployed from
// manifests/, creates the GatewayClass and runs the suite with the features
// the GatewayClass reports as supported.
func TestConformance(t *testing.T) {
	log.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapLevel())))
	ctx := context.Background()
	c, err := harness.StartDevCluster(ctx, harness.DevOptions{Root: "..", DeployPortico: true, Log: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	// Registered first, so it runs after the suite's own cleanups.
	t.Cleanup(c.Stop)

	cl, err := client.New(c.Config, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, add := range []func(*runtime.Scheme) error{v1alpha3.Install, v1alpha2.Install, xv1alpha1.Install, gatewayv1.Install, apiextensionsv1.AddToScheme} {
		if err := add(cl.Scheme()); err != nil {
			t.Fatal(err)
		}
	}
	gc := &gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "portico"},
		Spec: gatewayv1.GatewayClassSpec{ControllerName: "portico.dev/gateway-controller"}}
	if err := cl.Create(ctx, gc); err != nil {
		t.Fatal(err)
	}
	// The suite reads the supported features from the class's status.
	deadline := time.Now().Add(2 * time.Minute)
	for len(gc.Status.SupportedFeatures) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("GatewayClass portico never reported supportedFeatures")
		}
		time.Sleep(time.Second)
		if err := cl.Get(ctx, client.ObjectKeyFromObject(gc), gc); err != nil {
			t.Fatal(err)
		}
	}
	cs, err := clientset.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	out := *report
	if out == "" {
		out = filepath.Join("reports", "v1.6.3", "portico-"+*version+"-report.yaml")
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	var profs []suite.ConformanceProfileName
	for _, p := range strings.Split(*profiles, ",") {
		profs = append(profs, suite.ConformanceProfileName(strings.TrimSpace(p)))
	}
	opts := suite.ConformanceOptions{
		ConfigurableOptions: suite.ConfigurableOptions{
			GatewayClassName:     "portico",
			CleanupBaseResources: true,
			CleanupTestResources: true,
			TimeoutConfig:        conformanceconfig.DefaultTimeoutConfig(),
			ConformanceProfiles:  profs,
			RunTest:              *runTest,
			ReportOutputPath:     out,
			Implementation: confv1.Implementation{
				Organization: "portico-dev", Project: "portico", URL: "https://github.com/portico-dev/portico",
				Version: *version, Contact: []string{"https://github.com/portico-dev/portico/issues"},
			},
		},
		Client:     cl,
		Clientset:  cs,
		RestConfig: c.Config,
	}
	conformance.RunConformanceWithOptions(t, opts)
}

func zapLevel() zapcore.Level {
	if os.Getenv("PORTICO_CONFORMANCE_DEBUG") != "" {
		return zapcore.DebugLevel
	}
	return zapcore.ErrorLevel
}
