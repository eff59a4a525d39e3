// Command gobin is built by the image tests against a gogo/protobuf
// release with a published advisory (GO-2021-0053), so that its build
// information names a vulnerable module.
package main

import (
	"fmt"

	"github.com/gogo/protobuf/proto"
)

func main() { fmt.Println(proto.GoGoProtoPackageIsVersion3) }
