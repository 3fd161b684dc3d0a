package main

import (
	"github.com/sharedcare/sharedcare/internal/searchparam"
	"github.com/sharedcare/sharedcare/internal/validate"
)

// The write path's checks, named here so that serve and import share them.
var (
	checkResource = validate.Resource
	patientRefs   = searchparam.PatientRefs
)
