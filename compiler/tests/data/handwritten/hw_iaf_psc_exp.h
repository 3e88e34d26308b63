/*
 *  hw_iaf_psc_exp.h
 *
 *  Hand-written reference neuron for nmlc (test fixture, not generated).
 *
 *  Leaky integrate-and-fire neuron with exponentially decaying excitatory and
 *  inhibitory postsynaptic currents, integrated exactly. Its dynamics equal those
 *  of NEST's built-in iaf_psc_exp with a deterministic threshold:
 *
 *    dV_m/dt      = -(V_m - E_L) / tau_m + (I_syn_ex + I_syn_in + I_e + I_stim) / C_m
 *    dI_syn_X/dt  = -I_syn_X / tau_syn_X           (X = ex, in)
 *
 *  A spike is emitted when V_m >= V_th at the end of a step; V_m is then clamped
 *  to V_reset for t_ref. Spike weights are routed by sign (positive: excitatory,
 *  negative: inhibitory), all on receptor 0. Currents on receptor 0 enter V_m
 *  directly; currents on receptor 1 are filtered through the excitatory synapse.
 *
 *  This file is the shape the NEST target's templates reproduce: parameters,
 *  state, internal variables and buffers in separate structs, propagators
 *  computed once in pre_run_hook(), update() doing arithmetic only.
 *
 *  Unlike the built-in model, voltages are stored as absolute values, so setting
 *  E_L alone does not shift V_m, V_th or V_reset.
 */

#ifndef NMLC_HW_IAF_PSC_EXP_H
#define NMLC_HW_IAF_PSC_EXP_H

// Must stay the first include: GCC only uses a precompiled header if it is
// included before any other token of the translation unit.
#include "nmlc_nest_pch.h"

namespace nmlc_hw
{

//! Registers the model with NEST's model manager under `name`.
void register_hw_iaf_psc_exp( const std::string& name );

class hw_iaf_psc_exp : public nest::ArchivingNode
{
public:
  hw_iaf_psc_exp();
  hw_iaf_psc_exp( const hw_iaf_psc_exp& );

  // Bring the base-class overloads into scope, otherwise the overrides below
  // would hide the remaining handle()/handles_test_event() overloads.
  using nest::Node::handle;
  using nest::Node::handles_test_event;

  size_t send_test_event( nest::Node&, size_t, nest::synindex, bool ) override;

  void handle( nest::SpikeEvent& ) override;
  void handle( nest::CurrentEvent& ) override;
  void handle( nest::DataLoggingRequest& ) override;

  size_t handles_test_event( nest::SpikeEvent&, size_t ) override;
  size_t handles_test_event( nest::CurrentEvent&, size_t ) override;
  size_t handles_test_event( nest::DataLoggingRequest&, size_t ) override;

  void get_status( Dictionary& ) const override;
  void set_status( const Dictionary& ) override;

  //! Receptor ports of CurrentEvent; SpikeEvent only uses DIRECT (0).
  enum CurrentReceptor : long
  {
    CURRENT_DIRECT = 0,
    CURRENT_FILTERED = 1,
  };

private:
  void init_buffers_() override;
  void pre_run_hook() override;
  void update( const nest::Time&, const long, const long ) override;

  // The recordables map and the data logger call the private accessors below.
  friend class nest::RecordablesMap< hw_iaf_psc_exp >;
  friend class nest::UniversalDataLogger< hw_iaf_psc_exp >;

  //! Independent parameters, in the units users set them (mV, ms, pA, pF).
  struct Parameters_
  {
    double E_L;        //!< resting potential, mV
    double C_m;        //!< membrane capacitance, pF
    double tau_m;      //!< membrane time constant, ms
    double t_ref;      //!< refractory period, ms
    double V_th;       //!< spike threshold, mV
    double V_reset;    //!< reset potential, mV
    double tau_syn_ex; //!< excitatory PSC time constant, ms
    double tau_syn_in; //!< inhibitory PSC time constant, ms
    double I_e;        //!< constant input current, pA

    Parameters_();
    void get( Dictionary& ) const;
    //! Reads the entries of `d` that name parameters, then validates; throws nest::BadProperty.
    void set( const Dictionary& d, nest::Node* node );
  };

  //! Dynamic state.
  struct State_
  {
    double V_m;           //!< membrane potential, mV
    double I_syn_ex;      //!< excitatory synaptic current (plus filtered current input), pA
    double I_syn_in;      //!< inhibitory synaptic current, pA
    double I_stim;        //!< piecewise-constant current from receptor 0, pA
    double I_filtered_in; //!< current arriving on receptor 1 in the last step, pA
    long refractory_steps; //!< steps left in the refractory period

    State_();
    void get( Dictionary& ) const;
    void set( const Dictionary& d, nest::Node* node );
  };

  //! Derived quantities, recomputed by pre_run_hook() before every run.
  struct Variables_
  {
    double P11_ex; //!< I_syn_ex propagator over one step
    double P11_in; //!< I_syn_in propagator over one step
    double P21_ex; //!< I_syn_ex -> V_m propagator, mV/pA
    double P21_in; //!< I_syn_in -> V_m propagator, mV/pA
    double P22;    //!< V_m decay over one step
    double P20;    //!< constant current -> V_m propagator, mV/pA
    long refractory_counts; //!< t_ref in steps
  };

  //! Input buffers and the data logger.
  struct Buffers_
  {
    explicit Buffers_( hw_iaf_psc_exp& );
    Buffers_( const Buffers_&, hw_iaf_psc_exp& );

    nest::RingBuffer spikes_ex;         //!< summed positive spike weights per delivery step
    nest::RingBuffer spikes_in;         //!< summed negative spike weights per delivery step
    nest::RingBuffer currents_direct;   //!< CurrentEvent on receptor 0
    nest::RingBuffer currents_filtered; //!< CurrentEvent on receptor 1

    nest::UniversalDataLogger< hw_iaf_psc_exp > logger;
  };

  double
  get_V_m_() const
  {
    return S_.V_m;
  }
  double
  get_I_syn_ex_() const
  {
    return S_.I_syn_ex;
  }
  double
  get_I_syn_in_() const
  {
    return S_.I_syn_in;
  }

  Parameters_ P_;
  State_ S_;
  Variables_ V_;
  Buffers_ B_;

  static nest::RecordablesMap< hw_iaf_psc_exp > recordablesMap_;
};

inline size_t
hw_iaf_psc_exp::send_test_event( nest::Node& target, size_t receptor_type, nest::synindex, bool )
{
  nest::SpikeEvent e;
  e.set_sender( *this );
  return target.handles_test_event( e, receptor_type );
}

inline size_t
hw_iaf_psc_exp::handles_test_event( nest::SpikeEvent&, size_t receptor_type )
{
  if ( receptor_type != CURRENT_DIRECT )
  {
    throw nest::UnknownReceptorType( receptor_type, get_name() );
  }
  return receptor_type;
}

inline size_t
hw_iaf_psc_exp::handles_test_event( nest::CurrentEvent&, size_t receptor_type )
{
  if ( receptor_type != CURRENT_DIRECT and receptor_type != CURRENT_FILTERED )
  {
    throw nest::UnknownReceptorType( receptor_type, get_name() );
  }
  // The returned value becomes the connection's rport, read back by handle().
  return receptor_type;
}

inline size_t
hw_iaf_psc_exp::handles_test_event( nest::DataLoggingRequest& dlr, size_t receptor_type )
{
  if ( receptor_type != 0 )
  {
    throw nest::UnknownReceptorType( receptor_type, get_name() );
  }
  return B_.logger.connect_logging_device( dlr, recordablesMap_ );
}

} // namespace nmlc_hw

#endif // NMLC_HW_IAF_PSC_EXP_H
