/*
 *  hw_iaf_psc_exp.cpp
 *
 *  Hand-written reference neuron for nmlc (test fixture, not generated):
 *  status dictionaries, event handling, propagators and the update loop.
 *  See hw_iaf_psc_exp.h for the equations.
 */

// Must stay the first include (precompiled header).
#include "nmlc_nest_pch.h"

#include "hw_iaf_psc_exp.h"

// ---------------------------------------------------------------------------
// Recordables: names a multimeter may ask for, mapped to accessor functions.
// The map is static and filled once, from the prototype's constructor.
// ---------------------------------------------------------------------------

nest::RecordablesMap< nmlc_hw::hw_iaf_psc_exp > nmlc_hw::hw_iaf_psc_exp::recordablesMap_;

namespace nest
{
template <>
void
RecordablesMap< nmlc_hw::hw_iaf_psc_exp >::create()
{
  insert_( "V_m", &nmlc_hw::hw_iaf_psc_exp::get_V_m_ );
  insert_( "I_syn_ex", &nmlc_hw::hw_iaf_psc_exp::get_I_syn_ex_ );
  insert_( "I_syn_in", &nmlc_hw::hw_iaf_psc_exp::get_I_syn_in_ );
}
} // namespace nest

namespace nmlc_hw
{

void
register_hw_iaf_psc_exp( const std::string& name )
{
  nest::register_node_model< hw_iaf_psc_exp >( name );
}

// ---------------------------------------------------------------------------
// Parameters_ and State_: defaults, status dictionaries, validation.
// ---------------------------------------------------------------------------

hw_iaf_psc_exp::Parameters_::Parameters_()
  : E_L( -70.0 )
  , C_m( 250.0 )
  , tau_m( 10.0 )
  , t_ref( 2.0 )
  , V_th( -55.0 )
  , V_reset( -70.0 )
  , tau_syn_ex( 2.0 )
  , tau_syn_in( 2.0 )
  , I_e( 0.0 )
{
}

void
hw_iaf_psc_exp::Parameters_::get( Dictionary& d ) const
{
  d[ "E_L" ] = E_L;
  d[ "C_m" ] = C_m;
  d[ "tau_m" ] = tau_m;
  d[ "t_ref" ] = t_ref;
  d[ "V_th" ] = V_th;
  d[ "V_reset" ] = V_reset;
  d[ "tau_syn_ex" ] = tau_syn_ex;
  d[ "tau_syn_in" ] = tau_syn_in;
  d[ "I_e" ] = I_e;
}

void
hw_iaf_psc_exp::Parameters_::set( const Dictionary& d, nest::Node* node )
{
  // update_value_param also accepts nest.random / spatial parameters, evaluated per node.
  nest::update_value_param( d, "E_L", E_L, node );
  nest::update_value_param( d, "C_m", C_m, node );
  nest::update_value_param( d, "tau_m", tau_m, node );
  nest::update_value_param( d, "t_ref", t_ref, node );
  nest::update_value_param( d, "V_th", V_th, node );
  nest::update_value_param( d, "V_reset", V_reset, node );
  nest::update_value_param( d, "tau_syn_ex", tau_syn_ex, node );
  nest::update_value_param( d, "tau_syn_in", tau_syn_in, node );
  nest::update_value_param( d, "I_e", I_e, node );

  if ( not( C_m > 0.0 ) )
  {
    throw nest::BadProperty( "C_m must be > 0 pF (got " + std::to_string( C_m ) + ")." );
  }
  if ( not( tau_m > 0.0 ) or not( tau_syn_ex > 0.0 ) or not( tau_syn_in > 0.0 ) )
  {
    throw nest::BadProperty( "tau_m, tau_syn_ex and tau_syn_in must be > 0 ms." );
  }
  if ( not( t_ref >= 0.0 ) )
  {
    throw nest::BadProperty( "t_ref must be >= 0 ms (got " + std::to_string( t_ref ) + ")." );
  }
  if ( not( V_reset < V_th ) )
  {
    throw nest::BadProperty( "V_reset must be < V_th." );
  }
}

hw_iaf_psc_exp::State_::State_()
  : V_m( -70.0 )
  , I_syn_ex( 0.0 )
  , I_syn_in( 0.0 )
  , I_stim( 0.0 )
  , I_filtered_in( 0.0 )
  , refractory_steps( 0 )
{
}

void
hw_iaf_psc_exp::State_::get( Dictionary& d ) const
{
  d[ "V_m" ] = V_m;
  d[ "I_syn_ex" ] = I_syn_ex;
  d[ "I_syn_in" ] = I_syn_in;
}

void
hw_iaf_psc_exp::State_::set( const Dictionary& d, nest::Node* node )
{
  nest::update_value_param( d, "V_m", V_m, node );
  nest::update_value_param( d, "I_syn_ex", I_syn_ex, node );
  nest::update_value_param( d, "I_syn_in", I_syn_in, node );
}

hw_iaf_psc_exp::Buffers_::Buffers_( hw_iaf_psc_exp& n )
  : logger( n )
{
}

hw_iaf_psc_exp::Buffers_::Buffers_( const Buffers_&, hw_iaf_psc_exp& n )
  : logger( n ) // buffers are never copied; a new node starts empty
{
}

// ---------------------------------------------------------------------------
// Construction and status.
// ---------------------------------------------------------------------------

hw_iaf_psc_exp::hw_iaf_psc_exp()
  : ArchivingNode()
  , P_()
  , S_()
  , V_()
  , B_( *this )
{
  recordablesMap_.create();
}

// NEST creates every node as a copy of the model's prototype.
hw_iaf_psc_exp::hw_iaf_psc_exp( const hw_iaf_psc_exp& n )
  : ArchivingNode( n )
  , P_( n.P_ )
  , S_( n.S_ )
  , V_( n.V_ )
  , B_( n.B_, *this )
{
}

void
hw_iaf_psc_exp::get_status( Dictionary& d ) const
{
  P_.get( d );
  S_.get( d );
  ArchivingNode::get_status( d );
  d[ "recordables" ] = recordablesMap_.get_list();

  Dictionary receptors;
  receptors[ "CURRENT_DIRECT" ] = static_cast< long >( CURRENT_DIRECT );
  receptors[ "CURRENT_FILTERED" ] = static_cast< long >( CURRENT_FILTERED );
  d[ "receptor_types" ] = receptors;
}

void
hw_iaf_psc_exp::set_status( const Dictionary& d )
{
  // Work on copies so that a BadProperty leaves the node unchanged.
  Parameters_ ptmp = P_;
  ptmp.set( d, this );
  State_ stmp = S_;
  stmp.set( d, this );

  // The base class may throw as well; commit only after it succeeded.
  ArchivingNode::set_status( d );

  P_ = ptmp;
  S_ = stmp;
}

// ---------------------------------------------------------------------------
// Simulation.
// ---------------------------------------------------------------------------

void
hw_iaf_psc_exp::init_buffers_()
{
  B_.spikes_ex.clear();
  B_.spikes_in.clear();
  B_.currents_direct.clear();
  B_.currents_filtered.clear();
  B_.logger.reset();
  ArchivingNode::clear_history();
}

// Exact propagator from a synaptic current with time constant tau_s to V_m over
// one step h: (1/C) * tau_m*tau_s/(tau_m - tau_s) * (exp(-h/tau_m) - exp(-h/tau_s)).
// Written with expm1 so that it stays accurate as tau_s -> tau_m, where it
// tends to h/C * exp(-h/tau_m).
static double
psc_to_vm_propagator( const double h, const double tau_m, const double tau_s, const double C )
{
  if ( tau_m == tau_s )
  {
    return h / C * std::exp( -h / tau_m );
  }
  const double rate_diff = 1.0 / tau_s - 1.0 / tau_m;
  return -std::exp( -h / tau_m ) * std::expm1( -h * rate_diff ) / ( C * rate_diff );
}

void
hw_iaf_psc_exp::pre_run_hook()
{
  B_.logger.init();

  const double h = nest::Time::get_resolution().get_ms();

  V_.P11_ex = std::exp( -h / P_.tau_syn_ex );
  V_.P11_in = std::exp( -h / P_.tau_syn_in );
  V_.P22 = std::exp( -h / P_.tau_m );
  V_.P20 = -P_.tau_m / P_.C_m * std::expm1( -h / P_.tau_m );
  V_.P21_ex = psc_to_vm_propagator( h, P_.tau_m, P_.tau_syn_ex, P_.C_m );
  V_.P21_in = psc_to_vm_propagator( h, P_.tau_m, P_.tau_syn_in, P_.C_m );

  V_.refractory_counts = nest::Time( nest::Time::ms( P_.t_ref ) ).get_steps();
}

void
hw_iaf_psc_exp::update( const nest::Time& origin, const long from, const long to )
{
  for ( long lag = from; lag < to; ++lag )
  {
    // Input delivered for this step: spikes jump the PSCs at the end of the
    // step, currents are held constant over the next step.
    const double spikes_ex = B_.spikes_ex.get_value( lag );
    const double spikes_in = B_.spikes_in.get_value( lag );

    if ( S_.refractory_steps == 0 )
    {
      S_.V_m = P_.E_L + ( S_.V_m - P_.E_L ) * V_.P22 + S_.I_syn_ex * V_.P21_ex + S_.I_syn_in * V_.P21_in
        + ( P_.I_e + S_.I_stim ) * V_.P20;
    }
    else
    {
      --S_.refractory_steps; // V_m stays clamped at V_reset
    }

    // I_syn_ex relaxes towards the receptor-1 current held over this step.
    S_.I_syn_ex = S_.I_syn_ex * V_.P11_ex + ( 1.0 - V_.P11_ex ) * S_.I_filtered_in;
    S_.I_syn_in *= V_.P11_in;
    S_.I_syn_ex += spikes_ex;
    S_.I_syn_in += spikes_in;

    if ( S_.V_m >= P_.V_th )
    {
      S_.refractory_steps = V_.refractory_counts;
      S_.V_m = P_.V_reset;

      // The spike belongs to the end of this step.
      set_spiketime( nest::Time::step( origin.get_steps() + lag + 1 ) );
      nest::SpikeEvent se;
      nest::kernel().event_delivery_manager.send( *this, se, lag );
    }

    S_.I_stim = B_.currents_direct.get_value( lag );
    S_.I_filtered_in = B_.currents_filtered.get_value( lag );

    B_.logger.record_data( origin.get_steps() + lag );
  }
}

void
hw_iaf_psc_exp::handle( nest::SpikeEvent& e )
{
  const long steps = e.get_rel_delivery_steps( nest::kernel().simulation_manager.get_slice_origin() );
  const double w = e.get_weight() * e.get_multiplicity();
  // Sign routing: the weight's sign picks the synapse, all on receptor 0.
  if ( w > 0.0 )
  {
    B_.spikes_ex.add_value( steps, w );
  }
  else
  {
    B_.spikes_in.add_value( steps, w );
  }
}

void
hw_iaf_psc_exp::handle( nest::CurrentEvent& e )
{
  const long steps = e.get_rel_delivery_steps( nest::kernel().simulation_manager.get_slice_origin() );
  const double I = e.get_weight() * e.get_current();
  if ( e.get_rport() == CURRENT_FILTERED )
  {
    B_.currents_filtered.add_value( steps, I );
  }
  else
  {
    B_.currents_direct.add_value( steps, I );
  }
}

void
hw_iaf_psc_exp::handle( nest::DataLoggingRequest& e )
{
  B_.logger.handle( e );
}

} // namespace nmlc_hw
