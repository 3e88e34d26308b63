/*
 *  hw_module.cpp
 *
 *  Hand-written NEST extension module for nmlc's toolchain tests: registers
 *  hw_iaf_psc_exp with the kernel when PyNEST runs nest.Install("/abs/path.so").
 */

// Must stay the first include (precompiled header).
#include "nmlc_nest_pch.h"

#include "hw_iaf_psc_exp.h"

// The registered model name can be overridden at compile time so that tests can
// build the same source under several names (a module cannot be unloaded, and a
// name cannot be registered twice in one kernel).
#ifndef NMLC_HW_MODEL_NAME
#define NMLC_HW_MODEL_NAME "hw_iaf_psc_exp"
#endif

namespace nmlc_hw
{

class HwModule : public nest::NESTExtensionInterface
{
public:
  ~HwModule() override
  {
  }

  //! Called by NEST right after loading, and again after every change of the
  //! number of threads: register every model the module provides.
  void
  initialize() override
  {
    register_hw_iaf_psc_exp( NMLC_HW_MODEL_NAME );
  }
};

} // namespace nmlc_hw

// NEST's ModuleManager::install() opens the library with libltdl and looks up the
// symbol "module", which must be an object derived from NESTExtensionInterface.
// A variable at global namespace scope is not name-mangled, so this definition
// exports exactly that symbol.
nmlc_hw::HwModule module;
